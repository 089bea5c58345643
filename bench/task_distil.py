"""Does task distillation keep the teacher's score? The ablation of `bort finetune`'s levers on one student.

One student (a `bort extract` / `bort pretrain --mode kd` directory), one fine-tuned teacher for the
task, the same E/H split of dev for every row (``--holdout-fraction``: early stopping reads E, the score
is H's). Each variant is one `bort finetune` command; the rows differ only in the flags named:

- ``gold``: today's path before task distillation: gold labels, lr 1e-4, 10 epochs;
- ``gold-size-rule``: gold labels, the learning rate and epochs chosen for the student's size;
- ``kd``: the teacher's outputs (α 0.9, τ 2) at lr 1e-4, 10 epochs;
- ``kd-size-rule``: the same with the size rule (bort's default with --teacher);
- ``kd-alpha-0.5``, ``kd-tau-1``: the mix;
- ``kd-augment-2-mlm``: two copies per example by φ mlm-replace through ``--mlm`` (the teacher's masked LM);
- ``kd-hidden-1``: bort's default plus γ 1, the hidden-state MSE against the teacher layers the student was cut from
  (TinyBERT's task-specific stage); ``kd-hidden-1-attention-1``: plus δ 1, MiniLMv2's relations of the last layer.

Runs two at a time, one thread each; finished runs are reused (each is an ordinary resumable run
directory under OUT). Prints and writes OUT/task_distil.md: H score per seed, the mean's share of the
teacher's H score, minutes per run (one thread).

    python bench/task_distil.py --student runs/quickstart/distil --teacher runs/quickstart/tasks/sst2/teacher \\
        --mlm runs/quickstart/teacher --task glue/SST-2 --data src/bort/data/glue/SST-2 --max-len 64 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from finetune_runs import finetune_run

COMMON = ["--batch-size", "32", "--warmup-ratio", "0.06", "--patience", "3", "--holdout-fraction", "0.5"]
TODAY = ["--lr", "1e-4", "--epochs", "10"]


def variants(teacher: str, mlm: str | None) -> dict[str, list[str]]:
    kd = ["--teacher", teacher]
    rows = {"gold": TODAY, "kd-size-rule": kd, "kd": kd + TODAY, "gold-size-rule": [],
            "kd-alpha-0.5": kd + ["--alpha", "0.5"], "kd-tau-1": kd + ["--temperature", "1"],
            "kd-hidden-1": kd + ["--hidden-weight", "1"],
            "kd-hidden-1-attention-1": kd + ["--hidden-weight", "1", "--attention-weight", "1"]}
    if mlm:
        rows["kd-augment-2-mlm"] = kd + ["--augment", "2", "--phi", "mlm-replace", "--phi-model", mlm]
    return rows


def run_one(args, name: str, flags: list[str], seed: int) -> dict:
    out = Path(args.out) / f"{name}-seed{seed}"
    metrics = finetune_run(out, ["--model", args.student, "--task", args.task, "--data", args.data, "--max-len",
                                 str(args.max_len), "--seed", str(seed), *COMMON, *flags])
    return {"name": name, "seed": seed, "held_out": metrics["held_out_metrics"], "seconds": metrics["seconds"],
            "lr": metrics.get("lr"), "epochs_run": len(metrics["history"]),
            "copies": (metrics.get("augmented") or {}).get("copies", 0), "command": metrics["command"]}


def teacher_on_each_h(args) -> dict[int, dict[str, float]]:
    """The fine-tuned teacher's metrics on each seed's H (the students of that seed are scored on the same H)."""
    from bort.checkpoint import load_classifier
    from bort.finetune.holdout import select_and_hold_out
    from bort.tasks import get_task
    from bort.tasks.encode import model_outputs
    from bort.tasks.predict import score
    from bort.tokenizer import load_tokenizer

    task = get_task(args.task)
    dev = task.read(Path(args.data), "dev")
    model, tokenizer = load_classifier(args.teacher), load_tokenizer(args.teacher)
    scores = {}
    for seed in args.seeds:
        _, held = select_and_hold_out(task, dev, 0.5, None, seed)
        scores[seed] = score(task, held, model_outputs(model, tokenizer, held, args.max_len))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", required=True)
    parser.add_argument("--teacher", required=True, help="the fine-tuned teacher, scored on each seed's H")
    parser.add_argument("--mlm", help="the teacher's masked LM, for the mlm-replace augmentation row")
    parser.add_argument("--task", default="glue/SST-2")
    parser.add_argument("--data", required=True)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="*", help="run these variants alone")
    parser.add_argument("--out", default="runs/task-distil-bench")
    args = parser.parse_args()
    teacher_scores = teacher_on_each_h(args)
    metric = next(iter(next(iter(teacher_scores.values()))))
    rows = {k: v for k, v in variants(args.teacher, args.mlm).items() if not args.only or k in args.only}
    jobs = [(name, flags, seed) for seed in args.seeds for name, flags in rows.items()]
    with ThreadPoolExecutor(2) as pool:  # two runs side by side on a 2-core machine, one thread each
        results = list(pool.map(lambda job: run_one(args, *job), jobs))
    teacher_mean = sum(t[metric] for t in teacher_scores.values()) / len(teacher_scores)
    lines = [f"Task {args.task}, student `{args.student}`, teacher `{args.teacher}`: H {metric} "
             + ", ".join(f"{t[metric]:.4f} (seed {seed})" for seed, t in teacher_scores.items())
             + "; H = the seed's half of dev, nothing selected on it; each share is the student's H score over the "
             "teacher's on the same H, averaged over seeds.", "",
             f"| variant | H {metric} per seed | mean | share of the teacher | lr | epochs run | copies | "
             "minutes (1 thread) |",
             "|---|---|---:|---:|---:|---:|---:|---:|",
             f"| the teacher | {', '.join(f'{t[metric]:.4f}' for t in teacher_scores.values())} | {teacher_mean:.4f} "
             "| 100% | | | | |"]
    for name in rows:
        mine = [r for r in results if r["name"] == name]
        scores = [r["held_out"][metric] for r in mine]
        mean = sum(scores) / len(scores)
        share = sum(r["held_out"][metric] / teacher_scores[r["seed"]][metric] for r in mine) / len(mine)
        lines.append(f"| {name} | {', '.join(f'{s:.4f}' for s in scores)} | {mean:.4f} | "
                     f"{100 * share:.1f}% | {mine[0]['lr']:.2g} | "
                     f"{', '.join(str(r['epochs_run']) for r in mine)} | {mine[0]['copies']} | "
                     f"{sum(r['seconds'] for r in mine) / 60 / len(mine):.1f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "task_distil.md").write_text(text)
    (Path(args.out) / "task_distil.json").write_text(json.dumps({"teacher": teacher_scores, "runs": results}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
