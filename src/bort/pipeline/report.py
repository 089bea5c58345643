"""The pipeline's ``report.md`` and ``pipeline.png``: the student against its teacher, and where everything is.

Everything comes from the stages' results recorded in ``pipeline_state.json``, so a re-run that
reuses every stage writes the same report without running anything.
"""

from __future__ import annotations

from pathlib import Path

from bort.pipeline.config import PipelineConfig
from bort.pipeline.stages import Stage, distils
from bort.util.io import save_figure, write_text_atomic


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
        method = student["method"] + (" + task KD" if distilled else "")
        rows.append({"name": task["name"], "task": task["task"], "method": method, "metric": metric,
                     "on": "held-out H" if scored == "held_out" else "dev (selected on)",
                     "student": student[scored][metric],
                     "teacher": (teacher.get(scored) or teacher["metrics"]).get(metric) if teacher else None,
                     "majority": student["majority_baseline"].get(metric),
                     "plain": (student.get("plain_held_out") or {}).get(metric),
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
        lines.append(f"- Chosen by the search: best W {best['W']:.4g} of {len(search['ranking'])} candidates; "
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
    export = results.get("export")
    if export:
        s = export["speedup"]
        lines.append(f"- Served: `{export['path']}`, {s.get('median', float('nan')):.2f}× eager "
                     f"[{s.get('low', float('nan')):.2f}, {s.get('high', float('nan')):.2f}], logits cosine "
                     f"{_number(export['cosine'], 5)} (`bort.inference.load('{export['out']}')`).")
    tasks = task_rows(cfg, results)
    if tasks:
        lines += ["", "## Tasks", "", "The student's score as a share of the teacher's, on the same examples (task "
                  "KD: the student learnt from the fine-tuned teacher's outputs as well as the gold labels).", "",
                  "| task | method | metric | on | student | teacher | student / teacher | majority class |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for row in tasks:
            plain = f" (plain, same Θ: {row['plain']:.4f})" if row["plain"] is not None else ""
            share = f"{100 * row['student'] / row['teacher']:.1f}%" if row["teacher"] else "—"
            lines.append(f"| {row['name']} ({row['task']}) | {row['method']} | {row['metric']} | {row['on']} | "
                         f"{row['student']:.4f}{plain} | {_number(row['teacher'])} | {share} | "
                         f"{_number(row['majority'])} |")
        lines += _test_lines(cfg, tasks)
    lines += ["", "## Where everything is", "", "| stage | folder | time | command |", "|---|---|---:|---|"]
    for stage in stages:
        record = records.get(stage.name, {})
        seconds = f"{record['seconds']:.0f} s" if "seconds" in record else ""
        lines.append(f"| {stage.name} | `{stage.model or stage.out}` | {seconds} | `{record.get('command', '')}` |")
    plot = plot_summary(out / "pipeline.png", tasks, teacher_params, student_params)
    if plot:
        lines += ["", f"![the student against the teacher]({plot.name})"]
    return write_text_atomic(out / "report.md", "\n".join(lines) + "\n")


def plot_summary(path: Path, tasks: list[dict], teacher_params: int, student_params: int | None) -> Path | None:
    """Size, and each task's score, of the student beside the teacher."""
    if not student_params and not tasks:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    if student_params:
        axes[0].bar(["teacher", "student"], [teacher_params / 1e6, student_params / 1e6],
                    color=["#999999", "#1f77b4"])
        axes[0].set_ylabel("parameters (millions)")
        axes[0].set_title("size")
    else:
        axes[0].axis("off")
    if tasks:
        x = range(len(tasks))
        axes[1].bar([i - 0.2 for i in x], [t["teacher"] or 0 for t in tasks], width=0.4, label="teacher",
                    color="#999999")
        axes[1].bar([i + 0.2 for i in x], [t["student"] for t in tasks], width=0.4, label="student", color="#1f77b4")
        for i, t in zip(x, tasks):
            if t["majority"] is not None:
                axes[1].hlines(t["majority"], i - 0.4, i + 0.4, colors="black", linestyles="dashed")
        axes[1].set_xticks(list(x), [f"{t['name']}\n{t['metric']}" for t in tasks])
        axes[1].set_title("tasks (dashed: majority class)")
        axes[1].legend()
    else:
        axes[1].axis("off")
    fig.tight_layout()
    return save_figure(fig, path)
