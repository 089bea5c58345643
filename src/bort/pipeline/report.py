"""The pipeline's ``report.md`` and ``pipeline.png``: the student against its teacher, and where everything is.

Everything comes from the stages' results recorded in ``pipeline_state.json``, so a re-run that
reuses every stage writes the same report without running anything.
"""

from __future__ import annotations

from pathlib import Path

from bort.finetune.defaults import more_epochs
from bort.pipeline.config import PipelineConfig
from bort.pipeline.plot import plot_sizes, plot_trade
from bort.pipeline.stages import Stage, distils
from bort.util.io import write_text_atomic


def _arch(values) -> str:
    return "⟨" + ",".join(map(str, values)) + "⟩"


def sizes(teacher: str, student_arch: list[int] | None) -> tuple[list[int], int, int | None]:
    """The teacher's ⟨D,A,H,I⟩, its parameters and the student's, counted alike (embeddings and encoder, in the
    teacher's vocabulary, which the student keeps) from the teacher's config alone."""
    from bort.architecture import Arch
    from bort.architecture.counting import count_params
    from bort.architecture.hf_config import arch_of, vocab_of
    from bort.checkpoint import load_config

    config = load_config(teacher)
    arch, vocab = arch_of(config), vocab_of(config)
    student = count_params(Arch(*student_arch), vocab).total if student_arch else None
    return list(arch.as_list()), count_params(arch, vocab).total, student


def task_rows(cfg: PipelineConfig, results: dict) -> list[dict]:
    """Per task: the metric, the student's and the teacher's score on the same examples, the majority class's."""
    rows = []
    for task in cfg.tasks:
        student = results.get(f"task:{task['name']}:student")
        teacher = results.get(f"task:{task['name']}:teacher")
        if not student:
            continue
        scored = "held_out" if student.get("held_out") else "metrics"
        metric = next(iter(student[scored]))
        distilled = distils(task)  # as plan() wires the student's --teacher
        raw = student.get("raw") or {}
        method = student["method"] + (" + task-aware extraction" if task.get("task_extract") else "") \
            + (" + task KD" if distilled else "")
        rows.append({"name": task["name"], "task": task["task"], "method": method, "metric": metric,
                     "on": "held-out H" if scored == "held_out" else "dev (selected on)",
                     "student": student[scored][metric],
                     "teacher": (teacher.get(scored) or teacher["metrics"]).get(metric) if teacher else None,
                     "no_teacher": None if teacher else ("your teacher_model, used as it is: not scored here"
                                                         if task.get("teacher_model") else
                                                         "teacher_score: false, no teacher fine-tuned"),
                     "majority": student["majority_baseline"].get(metric),
                     "plain": (student.get("plain_held_out") or {}).get(metric),
                     "more_epochs": raw.get("more_epochs"), "epochs": raw.get("epochs"),
                     "test": test_scores(student, teacher, metric)})
    return rows


def test_scores(student: dict, teacher: dict | None, metric: str) -> dict | None:
    """The task's test file as the student's and the teacher's runs predicted it: its size, whether it is labelled,
    and (when it is) both scores; None when the task had no test file."""
    test = student.get("test")
    if not test:
        return None
    scores = {"examples": test["examples"], "labelled": test["labelled"]}
    if test["labelled"]:
        scores["student"] = test["metrics"][metric]
        scores["teacher"] = ((teacher or {}).get("test") or {}).get("metrics", {}).get(metric)
    return scores


def _test_lines(cfg: PipelineConfig, tasks: list[dict]) -> list[str]:
    """The test files' table: scored where labelled, and where the predictions are either way."""
    tested = [row for row in tasks if row["test"]]
    if not tested:
        return []
    lines = ["", "### Test files", "", "Predicted once by the selected models; nothing was selected on them.", "",
             "| task | examples | student | teacher | student / teacher | predictions |",
             "|---|---:|---:|---:|---:|---|"]
    for row in tested:
        test, folder = row["test"], Path(cfg.out) / "tasks" / row["name"]
        where = f"`{folder / 'student' / 'test_predictions.jsonl'}`"
        if not test["labelled"]:
            lines.append(f"| {row['name']} | {test['examples']} | no labels | no labels | — | {where} |")
            continue
        share = f"{100 * test['student'] / test['teacher']:.1f}%" if test["teacher"] else "—"
        lines.append(f"| {row['name']} | {test['examples']} | {test['student']:.4f} | {_number(test['teacher'])} | "
                     f"{share} | {where} |")
    return lines


def _served(export: dict, against: str) -> str:
    """An export stage's path and its speed-up over eager, with the 95% interval."""
    s = export["speedup"]
    return (f"`{export['path']}`, {s.get('median', float('nan')):.2f}× {against} [{s.get('low', float('nan')):.2f}, "
            f"{s.get('high', float('nan')):.2f}]")


def _number(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def write_report(cfg: PipelineConfig, stages: list[Stage], records: dict) -> Path:
    out = Path(cfg.out)
    results = {name: record.get("result") or {} for name, record in records.items() if record.get("done")}
    extract, distil = results.get("extract"), results.get("distil")
    teacher_arch, teacher_params, student_params = sizes(cfg.teacher, extract["arch"] if extract else None)
    lines = [f"# Pipeline report: {out.name}", "", f"Config: `{cfg.source}`; teacher `{cfg.teacher}` "
             f"{_arch(teacher_arch)}, {teacher_params / 1e6:.2f}M parameters (embeddings and encoder).", ""]
    if extract:
        lines += ["## The student", "",
                  f"- Architecture {_arch(extract['arch'])} cut out of the teacher's {_arch(extract['teacher_arch'])}: "
                  f"{student_params / 1e6:.2f}M parameters, {100 * student_params / teacher_params:.0f}% of the "
                  f"teacher's (its encoder layers: {100 * extract['encoder_share']:.0f}% of the teacher's)."]
    search = results.get("search")
    if search:
        best = search["best_scores"]
        chosen = (f"the lowest ê ({best['error']:.4g}) within the budget" if "budget" in best else
                  f"best W {best['W']:.4g}")
        surrogate = (f"ê on task {cfg.search['task']}: each candidate's loss against that task's fine-tuned teacher "
                     "after a few steps of task distillation" if cfg.search.get("task") else
                     "ê on the corpus against the teacher")
        lines.append(f"- Chosen by the search, of {len(search['ranking'])} candidates: {chosen} ({surrogate}); "
                     f"î {best['latency']:.4g} {search['latency_unit']} against the teacher's "
                     f"{search['teacher_latency']:.4g} (measured during the search).")
    if distil:
        lines.append(f"- Distilled for {distil['step']} steps: held-out MLM accuracy "
                     f"{_number(distil['mlm_accuracy'], 3)} "
                     f"vs {_number(distil['baseline_accuracy'], 3)} for always predicting the most frequent token.")
    bench = results.get("bench")
    if bench:
        for shape, rows in bench["ratios"].items():
            for name, ratio in rows.items():
                if name == cfg.teacher:  # (the other rows: the student, and any fast path the section asked for)
                    lines.append(f"- Speed ({shape.replace('x', ' × ')} tokens, `bort bench`, "
                                 f"{bench.get('cpu', 'this CPU')}): the teacher takes **{ratio['median']:.2f}×** "
                                 f"the student's time [95% interval {ratio['low']:.2f}, {ratio['high']:.2f}].")
    served_teacher = results.get("export_teacher")
    if served_teacher:
        lines.append(f"- The teacher served the same way: {_served(served_teacher, 'its eager')}.")
    export = results.get("export")
    if export:
        lines.append(f"- Served: {_served(export, 'eager')}, logits cosine {_number(export['cosine'], 5)} "
                     f"(`bort.inference.load('{export['out']}')`).")
    tasks = task_rows(cfg, results)
    timing = timings(cfg, results)
    if tasks:
        speed = f"{timing['speed']:.2f}×" if timing else "—"
        lines += ["", "## Tasks", "", "The student's score as a share of the teacher's, on the same examples (task "
                  "KD: the student learnt from the fine-tuned teacher's outputs as well as the gold labels); speed: "
                  "the teacher's time over the student's in the bench run above (one shape for every task's "
                  "student).", "",
                  "| task | method | metric | on | student | teacher | student / teacher | speed | majority class |",
                  "|---|---|---|---|---:|---:|---:|---:|---:|"]
        for row in tasks:
            plain = f" (plain, same Θ: {row['plain']:.4f})" if row["plain"] is not None else ""
            share = f"{100 * row['student'] / row['teacher']:.1f}%" if row["teacher"] else "—"
            teacher = _number(row["teacher"]) if row["teacher"] is not None else f"— ({row['no_teacher']})"
            lines.append(f"| {row['name']} ({row['task']}) | {row['method']} | {row['metric']} | {row['on']} | "
                         f"{row['student']:.4f}{plain} | {teacher} | {share} | {speed} | "
                         f"{_number(row['majority'])} |")
        lines += [f"\nNote ({row['name']}): {row['more_epochs']} (`epochs: {more_epochs(row['epochs'])}` in the task's "
                  "entry)." for row in tasks if row["more_epochs"]]
        lines += _test_lines(cfg, tasks)
    lines += ["", "## Where everything is", "", "| stage | folder | time | command |", "|---|---|---:|---|"]
    for stage in stages:
        record = records.get(stage.name, {})
        seconds = f"{record['seconds']:.0f} s" if "seconds" in record else ""
        lines.append(f"| {stage.name} | `{stage.model or stage.out}` | {seconds} | `{record.get('command', '')}` |")
    plot = (plot_trade(out / "pipeline.png", tasks[0], timing) if tasks and timing else
            plot_sizes(out / "pipeline.png", tasks, teacher_params, student_params))
    if plot:
        lines += ["", f"![the student against the teacher]({plot.name})"]
        if tasks and timing and timing["served_ms"] is None:
            lines.append("(The served student is not on the plot: the pipeline's export stage is off.)")
        if tasks and timing:
            lines.append("(Each served point is its model's eager time in the bench run over its export's speed-up: a "
                         "composed figure." + ("" if timing["teacher_served_ms"] else " The teacher served is not on "
                                               "the plot: `export: {serve_teacher: true}` exports it too.") + ")")
    return write_text_atomic(out / "report.md", "\n".join(lines) + "\n")


def timings(cfg: PipelineConfig, results: dict) -> dict | None:
    """Milliseconds per sequence from the bench stage (the teacher's and the student's, eager, in one run) and, with
    an export, the served student's (its eager time over the export's speed-up); None without a bench."""
    bench = results.get("bench")
    if not bench:
        return None
    rows = bench["raw"]["cells"][0]["rows"]
    student = rows.get(bench["subject"])  # the bench's subject: the first task's student
    if cfg.teacher not in rows or student is None:
        return None
    export, served_teacher = results.get("export"), results.get("export_teacher")
    served = student["median_ms"] / export["speedup"]["median"] if export and export["speedup"].get("median") else None
    teacher_served = (rows[cfg.teacher]["median_ms"] / served_teacher["speedup"]["median"]
                      if served_teacher and served_teacher["speedup"].get("median") else None)
    return {"teacher_ms": rows[cfg.teacher]["median_ms"], "student_ms": student["median_ms"], "served_ms": served,
            "speed": rows[cfg.teacher]["ratio_to_subject"]["median"],  # the median of per-round ratios
            "served_path": export["path"] if export else None, "cpu": bench.get("cpu"),
            "teacher_served_ms": teacher_served,
            "teacher_served_path": served_teacher["path"] if served_teacher else None,
            "shape": f"{bench['raw']['cells'][0]['batch']} × {bench['raw']['cells'][0]['seq_len']} tokens"}
