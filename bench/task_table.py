"""How much of its teacher does a bort student keep on full GLUE training sets? The table of `bort finetune
--teacher` across tasks and student sizes, beside what a user could do without bort.

For each task (its full training set; dev split into E, which early stopping reads, and H, which scores, by
``--holdout-fraction 0.5`` at ``--seed``, 0 by default, the same H for every row):

- the teacher (``--teacher-init``, e.g. all-MiniLM-L6-v2) fine-tuned at each ``--teacher-lrs`` (3 epochs), the
  one best on E kept: every student's teacher, and the score to keep;
- each student (``--students NAME=DIR``: bort extract + bort pretrain --mode kd directories) distilled from it
  with bort's defaults (``kd``: α 0.9, τ 2, lr and epochs by the student's size);
- the students named by ``--gold-for`` also on gold labels alone with the same size rule (``gold``: the path
  before task distillation);
- ``--task-aware NAME ...``: the shape of student NAME cut out of each task's *fine-tuned* teacher instead
  (`bort extract --task`: Taylor scores on the task's loss, the classifier kept), then distilled from it the same
  way (row ``NAME-task-kd``; no corpus distillation);
- ``--hidden-for NAME ...``: that same cut distilled with the hidden-state term too (``--hidden-weight 1``, each
  student layer pulled towards the fine-tuned teacher's layer it was cut from: TinyBERT's task-specific stage; row
  ``NAME-task-kd-hidden``);
- ``--max-train-examples TASK=N``: every row of TASK trained on the same seeded subset of N examples (the
  large tasks: SST-2, QNLI);
- ``--offshelf DIR``: an off-the-shelf small model fine-tuned on gold labels, as a user would without bort;
- ``--serve ROW ...``: those rows (``teacher`` among them: what a user gets with no student at all) served through
  `bort export --auto` on each task, the path kept, its dev score against eager's and its speed over eager.

Runs two at a time (``--jobs``), one thread each, a task's students once its teacher is chosen; finished runs are
reused (each is a resumable run directory under OUT), so a stopped table continues. ``--speed`` adds one interleaved
`bort bench` run of every model at 1 × 128 tokens: each row's time ratio to the teacher. Writes OUT/task_table.md
and .json with what has finished (rows still running are left out and said so).

    python bench/task_table.py --tasks glue/MRPC glue/STS-B glue/CoLA --data-root ../shared/data \\
        --teacher-init runs/models/all-MiniLM-L6-v2 --students 2x=runs/students/2x 4x=runs/students/4x \\
        8x=runs/quickstart/distil --gold-for 4x --offshelf runs/models/paraphrase-MiniLM-L3-v2 --speed
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from finetune_runs import bort_step, finetune_run

HOLDOUT = ["--holdout-fraction", "0.5"]
EXTRACT = ["--importance", "taylor", "--seq-len", "128", "--batch-size", "16", "--calibration-batches", "32"]
TEACHER = ["--epochs", "3", "--batch-size", "16", "--warmup-ratio", "0.06", "--patience", "2"]
STUDENT = ["--batch-size", "32", "--warmup-ratio", "0.06", "--patience", "3"]
# the rows beyond a student's ``NAME-kd``, each with the option naming the students it is made for
ROW_KINDS = {"gold": "gold_for", "task-kd": "task_aware", "task-kd-hidden": "hidden_for"}


def task_dir(root: Path, task: str) -> Path:
    benchmark, name = task.split("/")
    return root / benchmark / name


def primary_metric(task: str) -> str:
    from bort.tasks import get_task

    return get_task(task).metrics[0]


def arch_of(model: str) -> str:
    """A student directory's ⟨D,A,H,I⟩, as `bort extract --arch` reads it."""
    config = json.loads((Path(model) / "config.json").read_text())
    return ",".join(str(config[k]) for k in ("num_hidden_layers", "num_attention_heads", "hidden_size",
                                             "intermediate_size"))


def plan(args) -> dict[str, list]:
    """Per task: the teacher runs (one per lr), then the rows that need the chosen teacher: (row, flags, kd, the
    shape to cut out of that teacher first or None)."""
    jobs = {}
    for task in args.tasks:
        base = ["--task", task, "--data", str(task_dir(Path(args.data_root), task)), *HOLDOUT,
                "--seed", str(args.seed)]
        if task in args.max_train_examples:  # the same seeded subset for every row (bort finetune --seed)
            base += ["--max-train-examples", str(args.max_train_examples[task])]
        teachers = [(f"teacher-lr{lr:g}", ["--model", args.teacher_init, "--lr", f"{lr:g}", *TEACHER, *base])
                    for lr in args.teacher_lrs]
        rows = []
        for name, model in args.students:
            rows.append((f"{name}-kd", ["--model", model, *STUDENT, *base], True, None))
            if name in args.gold_for:
                rows.append((f"{name}-gold", ["--model", model, *STUDENT, *base], False, None))
            if name in args.task_aware:
                rows.append((f"{name}-task-kd", [*STUDENT, *base], True, arch_of(model)))
            if name in args.hidden_for:
                rows.append((f"{name}-task-kd-hidden", [*STUDENT, *base, "--hidden-weight", "1"], True,
                             arch_of(model)))
        if args.offshelf:
            rows.append(("offshelf-gold", ["--model", args.offshelf, *STUDENT, *base], False, None))
        jobs[task] = [teachers, rows]
    return jobs


def priority(args, job: tuple) -> tuple:
    """Students before the gold-label rows, the off-the-shelf model after the first student, tasks in order: a
    table stopped part-way has the rows that answer the most."""
    task, row, _, _ = job
    names = [n for n, _ in args.students]
    rank = {f"{names[0]}-kd": 0, "offshelf-gold": 1} | {f"{n}-kd": 2 + i for i, n in enumerate(names[1:])}
    # the rows still missing when a table is extended
    rank |= {f"{n}-task-kd": 0 for n in args.task_aware} | {f"{n}-task-kd-hidden": 0 for n in args.hidden_for}
    return (row.startswith("teacher-") is False, rank.get(row, len(rank) + 2), args.tasks.index(task))


def best_teacher(out: Path, task: str, results: dict) -> str:
    """The teacher run best on E (the primary metric early stopping read)."""
    metric = primary_metric(task)
    runs = {name: r for (t, name), r in results.items() if t == task and name.startswith("teacher-")}
    return str(out / task.replace("/", "-") / max(runs, key=lambda n: runs[n]["dev"][metric]))


EXTRACTING = threading.Lock()  # NAME-task-kd and NAME-task-kd-hidden may start together and share one cut


def task_aware_run(folder: Path, cut: str, teacher: str, task: str, data: str, flags: list[str]) -> dict:
    """Cut the shape ``cut`` out of the fine-tuned teacher on the task's loss (once per student: ``NAME-task-kd``
    and ``NAME-task-kd-hidden`` share it), then distil it from that teacher."""
    student = folder.parent / (folder.name.removesuffix("-hidden").removesuffix("-kd") + "-extract")
    with EXTRACTING:
        if not (student / "extraction.json").is_file():
            bort_step(["extract", "--teacher", teacher, "--task", task, "--data", data, "--arch", cut, *EXTRACT,
                       "--out", str(student)], student)
    return finetune_run(folder, ["--model", str(student), *flags])


def start(pool, out: Path, task: str, name: str, flags: list[str], cut: str | None, data_root: str):
    folder = out / task.replace("/", "-") / name
    if cut is None:
        return pool.submit(finetune_run, folder, flags)
    teacher = flags[flags.index("--teacher") + 1]
    return pool.submit(task_aware_run, folder, cut, teacher, task, str(task_dir(Path(data_root), task)), flags)


def run_all(args) -> dict:
    out, jobs = Path(args.out), plan(args)
    results: dict[tuple[str, str], dict] = {}
    ready = [(task, name, flags, None) for task, (teachers, _) in jobs.items() for name, flags in teachers]
    waiting_teachers = {task: len(teachers) for task, (teachers, _) in jobs.items()}
    with ThreadPoolExecutor(args.jobs) as pool:  # by default two runs side by side on a 2-core machine
        running = {}
        while ready or running:
            while ready and len(running) < args.jobs:
                task, name, flags, cut = ready.pop(0)
                running[start(pool, out, task, name, flags, cut, args.data_root)] = (task, name)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task, name = running.pop(future)
                results[(task, name)] = future.result()
                print(f"finished {task} {name}", flush=True)
                if name.startswith("teacher-"):
                    waiting_teachers[task] -= 1
                    if waiting_teachers[task] == 0:
                        teacher = best_teacher(out, task, results)
                        ready += [(task, row, flags + (["--teacher", teacher] if kd else []), cut)
                                  for row, flags, kd, cut in jobs[task][1]]
                        ready.sort(key=lambda job: priority(args, job))
            write_table(args, results)
    return results


def finished_runs(args) -> dict:
    """Every planned run whose metrics.json is there, without starting any."""
    out, results = Path(args.out), {}
    for task, (teachers, rows) in plan(args).items():
        for name in [n for n, _ in teachers] + [r for r, *_ in rows]:
            metrics = out / task.replace("/", "-") / name / "metrics.json"
            if metrics.is_file():
                results[(task, name)] = {**json.loads(metrics.read_text()), "command": "(see its README.md)"}
    return results


def speed(args) -> dict[str, float]:
    """Each model's time over the teacher's at 1 × 128 tokens (fp32 eager), from one interleaved bench run."""
    out = Path(args.out) / "bench"
    models = [args.teacher_init] + [d for _, d in args.students[1:]] + ([args.offshelf] if args.offshelf else [])
    subject = args.students[0][1]
    subprocess.run([sys.executable, "-m", "bort.cli.main", "bench", "--models", *models, "--model", subject,
                    "--lengths", "128", "--fast-paths", "none", "--out", str(out)], check=True)
    record = json.loads((out / "bench.json").read_text())
    rows = record["cells"][0]["rows"]  # model → its time over the subject's, median of per-round ratios
    teacher = rows[args.teacher_init]["ratio_to_subject"]["median"]
    names = {d: n for n, d in args.students} | ({args.offshelf: "offshelf"} if args.offshelf else {})
    result = {names[subject]: teacher}
    result.update({names[m]: teacher / rows[m]["ratio_to_subject"]["median"] for m in models[1:]})
    return {"teacher_over": result}


SERVE_PATHS = "eager,bf16,torch-int8,onnx-fused,onnx-fused-int8,onnx-fused-int8-sq"  # the quickstart's: no compiler


def serve(args, results: dict) -> dict[str, dict]:
    """``--serve ROW...``: each finished row's model on each task through ``bort export --auto`` (the
    six paths that need no compiler, each checked on the task's whole dev set and timed beside eager at 1 × 128
    tokens on one thread), one at a time after the training runs, reused when its export.json is there. Keyed
    "TASK ROW"."""
    out, served = Path(args.out), {}
    for task in args.tasks:
        teacher = all((task, f"teacher-lr{lr:g}") in results for lr in args.teacher_lrs) and \
            Path(best_teacher(out, task, results)).name
        for row in args.serve:
            name = teacher if row == "teacher" else row
            if not name or (task, name) not in results:
                continue
            folder = out / task.replace("/", "-") / f"{row}-served"
            if not (folder / "export.json").is_file():
                if args.report:  # (--report starts nothing)
                    continue
                print(f"serving {task} {row}", flush=True)
                bort_step(["export", str(folder.parent / name), "--auto", "--task", task, "--data",
                           str(task_dir(Path(args.data_root), task)), "--candidates", SERVE_PATHS, "--threads", "1",
                           "--out", str(folder)], folder)
            record = json.loads((folder / "export.json").read_text())
            chosen = record["candidates"][record["path"]]
            served[f"{task} {row}"] = {"path": record["path"], "eager": record["bar"]["eager_task_score"],
                                       "served": chosen["task_score"], "speedup": chosen["speedup_over_eager"]}
    return served


def served_table(args, served: dict[str, dict], tasks: list[str]) -> list[str]:
    """Each served row per task: the path kept, the score on the whole dev set eager → served, its speed over eager."""
    lines = ["", "| served (bort export --auto; whole dev set) | " + " | ".join(t.split("/")[1] for t in tasks) + " |",
             "|---|" + "---|" * len(tasks)]
    rows = args.serve or list(dict.fromkeys(key.split(" ", 1)[1] for key in served))  # (a rewrite: the saved ones)
    for row in rows:
        cells = [served.get(f"{t} {row}") for t in tasks]
        lines.append(f"| {row} | " + " | ".join(
            "" if c is None else f"{c['path']}: {c['eager']:.2f} → {c['served']:.2f}, {c['speedup']['median']:.2f}× "
            f"[{c['speedup']['low']:.2f}, {c['speedup']['high']:.2f}] eager" for c in cells) + " |")
    return lines


def write_table(args, results: dict, speeds: dict | None = None, served: dict | None = None) -> str:
    saved = Path(args.out) / "task_table.json"
    if speeds is None and saved.is_file():  # a table extended or rewritten keeps its last bench run's ratios
        speeds = json.loads(saved.read_text())["speeds"]
    if served is None and saved.is_file():  # ... and its served rows
        served = json.loads(saved.read_text()).get("served")
    tasks = [t for t in args.tasks if any(t == task for task, _ in results)]
    metrics = {t: primary_metric(t) for t in tasks}
    kinds = ("gold", "kd", "task-kd", "task-kd-hidden")  # each student's rows in this order
    rows = ["teacher"] + [f"{n}-{kind}" for n, _ in args.students for kind in kinds
                          if kind == "kd" or n in getattr(args, ROW_KINDS[kind])] \
        + (["offshelf-gold"] if args.offshelf else [])
    out = Path(args.out)
    teacher_runs = {t: Path(best_teacher(out, t, results)).name for t in tasks
                    if all((t, f"teacher-lr{lr:g}") in results for lr in args.teacher_lrs)}

    def cell(task, row):
        name = teacher_runs.get(task) if row == "teacher" else row
        result = results.get((task, name)) if name else None
        return result["held_out_metrics"][metrics[task]] if result else None

    subset = {t: f", {args.max_train_examples[t]:,} training examples" for t in args.max_train_examples}
    header = "| row | " + " | ".join(f"{t.split('/')[1]} ({metrics[t]}{subset.get(t, '')})" for t in tasks) + \
        " | mean share of the teacher | teacher's time over the row's | CPU minutes (1 thread) |"
    lines = [header, "|---|" + "---:|" * (len(tasks) + 3)]
    for row in rows:
        scores = [cell(t, row) for t in tasks]
        shares = [s / cell(t, "teacher") for t, s in zip(tasks, scores) if s is not None and cell(t, "teacher")]
        key = row.split("-")[0]  # a task-aware row has its corpus student's shape, so its speed
        ratio = "1.00" if row == "teacher" else (f"{speeds['teacher_over'][key]:.2f}×"
                                                   if speeds and key in speeds["teacher_over"] else "")
        minutes = sum(results[(t, teacher_runs.get(t) if row == "teacher" else row)]["seconds"]
                      for t, s in zip(tasks, scores) if s is not None) / 60
        share = f"{100 * sum(shares) / len(shares):.1f}% (of {len(shares)})" if shares and row != "teacher" else ""
        lines.append(f"| {row} | " + " | ".join("…" if s is None else f"{s:.4f}" for s in scores)
                     + f" | {share} | {ratio} | {minutes:.1f} |")
    if served:
        lines += served_table(args, served, tasks)
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "task_table.md").write_text(text)
    (out / "task_table.json").write_text(json.dumps(
        {"speeds": speeds, "served": served, "runs": {f"{t} {n}": {"held_out": r["held_out_metrics"], "dev": r["dev"],
                                                 "seconds": r["seconds"], "lr": r.get("lr"),
                                                 "epochs_run": len(r["history"]), "command": r["command"]}
                                    for (t, n), r in results.items()}}, indent=2))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--data-root", required=True, help="the folder holding glue/TASK folders")
    parser.add_argument("--teacher-init", required=True, help="the pretrained model every teacher starts from")
    parser.add_argument("--teacher-lrs", type=float, nargs="+", default=[1e-4])
    parser.add_argument("--max-train-examples", nargs="*", default=[], metavar="TASK=N",
                        help="train every row of TASK on the same seeded subset of N examples (SST-2, QNLI)")
    parser.add_argument("--students", nargs="+", required=True, metavar="NAME=DIR",
                        type=lambda s: tuple(s.split("=", 1)))
    parser.add_argument("--gold-for", nargs="*", default=[], metavar="NAME")
    parser.add_argument("--task-aware", nargs="*", default=[], metavar="NAME",
                        help="these students' shapes also cut out of each task's fine-tuned teacher (bort extract "
                             "--task) and distilled from it")
    parser.add_argument("--hidden-for", nargs="*", default=[], metavar="NAME",
                        help="these students' task-aware cuts also distilled with the hidden-state term "
                             "(--hidden-weight 1)")
    parser.add_argument("--serve", nargs="*", default=[], metavar="ROW",
                        help="these rows (teacher, 2x-kd, ...) also served through bort export --auto on each task, "
                             "after the training runs")
    parser.add_argument("--offshelf")
    parser.add_argument("--seed", type=int, default=0,
                        help="every fine-tuning run's seed: H (the held-out half of dev), the training subset, the "
                             "head, the data order (task-aware cuts keep extract's); another seed is another table, so "
                             "give it its own --out")
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2), help="runs side by side, one thread each")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--report", action="store_true", help="write the table from the runs already finished")
    parser.add_argument("--out", default="runs/task-table")
    args = parser.parse_args()
    # absolute paths: the bench keys its rows by the paths it was given, and the runs' commands read anywhere
    args.teacher_init = str(Path(args.teacher_init).resolve())
    args.students = [(name, str(Path(d).resolve())) for name, d in args.students]
    args.offshelf = str(Path(args.offshelf).resolve()) if args.offshelf else None
    try:
        args.max_train_examples = {task: int(n) for task, n in (item.split("=", 1) for item in args.max_train_examples)}
    except ValueError:
        parser.error("--max-train-examples takes TASK=N items, e.g. glue/SST-2=20000")
    if any(n < 1 for n in args.max_train_examples.values()):
        parser.error("--max-train-examples: N must be a positive number of examples")
    if unknown := set(args.max_train_examples) - set(args.tasks):
        parser.error(f"--max-train-examples {' '.join(sorted(unknown))}: not among --tasks")
    names = {name for name, _ in args.students}
    for option in ROW_KINDS.values():
        if unknown := set(getattr(args, option)) - names:
            parser.error(f"--{option.replace('_', '-')} {' '.join(sorted(unknown))}: not among --students "
                         f"({', '.join(names)})")
    rows = {"teacher"} | {row for row, *_ in plan(args)[args.tasks[0]][1]}
    if unknown := set(args.serve) - rows:
        parser.error(f"--serve {' '.join(sorted(unknown))}: not rows of this table ({', '.join(sorted(rows))})")
    results = finished_runs(args) if args.report else run_all(args)
    speeds = speed(args) if args.speed else None
    served = serve(args, results) if args.serve else None
    print(write_table(args, results, speeds, served))


if __name__ == "__main__":
    main()
