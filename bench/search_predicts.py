"""Does the search's surrogate predict what the user gets? ê against each candidate's final distilled task score.

For candidates of the `minilm` space spread over speed, each student is made as the quickstart makes its own:
cut out of the masked-LM teacher by the corpus search's importance scores (`bort extract --scores`), distilled
on the corpus for 100 steps (`bort pretrain --mode kd --hidden-weight 1`), then distilled on the task from the
fine-tuned teacher (`bort finetune --teacher`, selected on E, scored on H). Three surrogates are compared with
that final H score by Spearman's ρ (with a bootstrap interval over candidates):

- the corpus ê from extracted starts (the quickstart's search, `--init extract`);
- the corpus ê from random starts (`bort search --init random`, the paper's);
- the task ê (`bort search --task`, from the fine-tuned teacher).

Then, under a speed-up budget: the candidate each ê picks (the lowest ê that fits) against the best one there.
Speed-ups are the corpus search's own measured î(T)/î. The final score is the task's primary metric (accuracy,
Pearson's r for STS-B, ...); ``--train-examples N`` trains every candidate (and the task surrogate) on the same N
training rows drawn at ``--seed``, the dev file whole. Every stage is an ordinary resumable run directory under
OUT, reused when it is finished.

    python bench/search_predicts.py --mlm runs/quickstart/teacher --search runs/quickstart/search \\
        --task-teacher runs/quickstart/tasks/sst2/teacher --task glue/SST-2 --data src/bort/data/glue/SST-2 \\
        --candidates 8 --min-speedup 4 --out runs/bench/search_predicts
    python bench/search_predicts.py --mlm runs/quickstart/teacher --search runs/quickstart/search \
        --task-teacher runs/task-table/glue-STS-B/teacher-lr0.0001 --task glue/STS-B \
        --data ../shared/data/glue/STS-B --train-examples 2000 --max-len 128 --out runs/bench/search_predicts-stsb
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr


def read_ranking(search_dir: Path) -> dict[str, dict]:
    with open(search_dir / "ranking.csv", encoding="utf-8") as f:
        return {",".join(r[k] for k in "DAHI"): r for r in csv.DictReader(f)}


def spread(rows: dict[str, dict], n: int) -> list[str]:
    """``n`` candidates spread evenly over the measured latency, fastest first."""
    by_speed = sorted(rows, key=lambda k: float(rows[k]["latency"]))
    picks = np.unique(np.linspace(0, len(by_speed) - 1, n).round().astype(int))
    return [by_speed[i] for i in picks]


def rho_with_interval(surrogate: list[float], score: list[float], seed: int = 0, resamples: int = 2000) -> dict:
    """Spearman ρ between −ê and the final score, and its 95% bootstrap interval over candidates."""
    x, y = -np.asarray(surrogate), np.asarray(score)
    rho = float(spearmanr(x, y).statistic)
    rng, draws = np.random.default_rng(seed), []
    for _ in range(resamples):
        idx = rng.integers(0, len(x), len(x))
        if len(set(idx)) > 2 and np.std(x[idx]) > 0 and np.std(y[idx]) > 0:
            draws.append(spearmanr(x[idx], y[idx]).statistic)
    low, high = (float(v) for v in np.percentile(draws, [2.5, 97.5]))
    return {"rho": rho, "low": low, "high": high}


def sampled_data(task: str, data: str, n: int | None, seed: int, out: Path) -> str:
    """The task folder with ``n`` of its training rows drawn at ``seed`` (header kept, order kept) and every other
    file as it is: OUT/data, with sample.json saying what it holds (a rerun asking for another sample stops). The
    folder itself when ``n`` is None."""
    if n is None:
        return data
    if n <= 0:
        raise SystemExit(f"--train-examples {n}: expected a positive number of training rows")
    sample, wanted = out / "data", {"data": str(Path(data).resolve()), "train_examples": n, "seed": seed}
    if (sample / "sample.json").is_file():
        held = json.loads((sample / "sample.json").read_text())
        if held != wanted:
            raise SystemExit(f"{sample} holds another sample ({held}); give another --out for {wanted}")
        return str(sample)
    sample.mkdir(parents=True, exist_ok=True)
    for f in Path(data).iterdir():
        if f.is_file() and f.name != "train.tsv":
            (sample / f.name).write_bytes(f.read_bytes())
    lines = (Path(data) / "train.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    # CoLA's is the one GLUE training file without a header (its reader names the columns)
    header, rows = ([], lines) if task == "glue/CoLA" else (lines[:1], lines[1:])
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False))
    temporary = sample / "train.tsv.tmp"
    temporary.write_text("".join(header) + "".join(rows[i] for i in keep), encoding="utf-8")
    temporary.rename(sample / "train.tsv")
    (sample / "sample.json").write_text(json.dumps(wanted))  # last: the sample is whole
    return str(sample)


def check_corpus_stages(args, defaults: dict[str, str]) -> None:
    """--corpus-stages-from must be a finished earlier run made with the same teacher, search, seed, corpus steps
    and candidates: its stages are reused as they are, never run again into its folder."""
    earlier = Path(args.corpus_stages_from) / "search_predicts.json"
    if not earlier.is_file():
        raise SystemExit(f"--corpus-stages-from {args.corpus_stages_from}: no finished run there ({earlier} missing)")
    argv = json.loads(earlier.read_text())["argv"]
    for flag, value in (("--mlm", args.mlm), ("--search", args.search), ("--seed", str(args.seed)),
                        ("--kd-steps", str(args.kd_steps)), ("--candidates", str(args.candidates))):
        theirs = argv[argv.index(flag) + 1] if flag in argv else defaults.get(flag)
        if theirs != value:
            raise SystemExit(f"--corpus-stages-from {args.corpus_stages_from}: it ran with {flag} {theirs}, "
                             f"this run asks for {value}")


def make_student(args, arch: str, out: Path) -> dict:
    """The quickstart's recipe for one shape; each stage reused when finished. Returns the finetune metrics."""
    import bort
    from bort.data import CORPUS_DIR

    corpus = [str(CORPUS_DIR)]
    folder = out / "students" / arch.replace(",", "-")
    tuned = folder / "tuned"
    if (tuned / "metrics.json").is_file():
        return json.loads((tuned / "metrics.json").read_text())
    if args.corpus_stages_from:  # the same cut and corpus distillation, made for another task
        folder = Path(args.corpus_stages_from) / "students" / arch.replace(",", "-")
    extracted = bort.extract(bort.ExtractConfig(teacher=args.mlm, arch=[int(v) for v in arch.split(",")],
                                                corpus=corpus, scores=str(Path(args.search) / "importance.json"),
                                                out=str(folder / "extract")))
    kd = bort.pretrain(bort.PretrainConfig(mode="kd", teacher=args.mlm, init=str(extracted.out), corpus=corpus,
                                           max_steps=args.kd_steps, warmup_steps=6, lr=1e-3, hidden_weight=1.0,
                                           seq_len=64, batch_size=16, schedule="linear", eval_every=50,
                                           save_every=args.kd_steps, val_batches=8, log_every=10, seed=args.seed,
                                           out=str(folder / "kd")))
    bort.finetune(bort.FinetuneConfig(model=str(kd.out), task=args.task, data=args.data, teacher=args.task_teacher,
                                      batch_size=32, warmup_ratio=0.06, max_len=args.max_len, patience=3,
                                      holdout_fraction=0.5, seed=args.seed, out=str(tuned)))
    return json.loads((tuned / "metrics.json").read_text())


def surrogate_searches(args, out: Path) -> dict[str, dict[str, float]]:
    """ê per candidate ("D,A,H,I" → ê) for each surrogate; the random-start and task searches run here."""
    import bort
    from bort.data import CORPUS_DIR

    errors = {"corpus ê, extracted starts": {k: float(r["error"]) for k, r in read_ranking(Path(args.search)).items()}}
    searched = json.loads((Path(args.search) / "search_config.json").read_text())
    common = dict(space=searched["space"], steps=searched["steps"], batch_size=searched["batch_size"],
                  val_batches=searched["val_batches"], latency="flops", latency_seq_len=searched["latency_seq_len"],
                  seed=args.seed)
    random_out = Path(args.corpus_stages_from or out) / "search-random"
    random = bort.search(bort.SearchConfig(teacher=args.mlm, corpus=[str(CORPUS_DIR)], init="random", lr=0.05,
                                           seq_len=searched["seq_len"], out=str(random_out), **common))
    errors["corpus ê, random starts"] = {",".join(map(str, r["arch"])): r["error"] for r in random.ranking}
    task = bort.search(bort.SearchConfig(teacher=args.task_teacher, task=args.task, data=args.data, lr=0.01,
                                         seq_len=args.max_len, out=str(out / "search-task"),
                                         **{**common, "steps": args.task_steps, "batch_size": 16, "val_batches": 8}))
    errors["task ê"] = {",".join(map(str, r["arch"])): r["error"] for r in task.ranking}
    return errors


def plot(path: Path, names: list[str], speed: dict, score: dict, teacher: float, budget: float, picks: dict,
         metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    ax.scatter([speed[n] for n in names], [score[n] for n in names], s=50, color="#1f77b4", zorder=3)
    for n in names:
        ax.annotate(f"⟨{n}⟩", (speed[n], score[n]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.axhline(teacher, color="#777777", linestyle="--", linewidth=1, label=f"the teacher: {teacher:.3f}")
    ax.axvline(budget, color="crimson", linestyle=":", linewidth=1, label=f"budget: ≥ {budget:g}× faster")
    markers = {"corpus ê, extracted starts": "s", "corpus ê, random starts": "^", "task ê": "*"}
    for what, n in picks.items():
        if n is not None:
            ax.scatter([speed[n]], [score[n]], marker=markers.get(what, "o"), s=200, facecolors="none",
                       edgecolors="crimson" if what == "task ê" else "black", label=f"pick by {what}", zorder=4)
    ax.set_xlabel("speed-up over the teacher (î(T)/î, measured by the search)")
    ax.set_ylabel(f"held-out {metric} after task distillation")
    ax.set_title("each candidate's final score against its speed, and what each surrogate picks", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the points fill the axes
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mlm", required=True, help="the masked-LM teacher the corpus search ran against")
    p.add_argument("--search", required=True, help="a finished corpus search with --init extract (its scores)")
    p.add_argument("--task-teacher", required=True, help="the teacher fine-tuned on the task")
    p.add_argument("--task", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("--min-speedup", type=float, default=4.0)
    p.add_argument("--kd-steps", type=int, default=100)
    p.add_argument("--task-steps", type=int, default=20, help="s of the task surrogate")
    p.add_argument("--max-len", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-examples", type=int, help="train on this many training rows, drawn at --seed")
    p.add_argument("--corpus-stages-from", metavar="OUT",
                   help="an earlier, finished run of this script with the same --mlm, --search, --seed, --kd-steps "
                        "and --candidates: its task-free stages (the random-start search, each candidate's cut and "
                        "corpus distillation) are reused")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.corpus_stages_from:
        check_corpus_stages(args, {f"--{name.replace('_', '-')}": str(p.get_default(name))
                                   for name in ("seed", "kd_steps", "candidates")})
    args.data = sampled_data(args.task, args.data, args.train_examples, args.seed, out)
    from bort.tasks import get_task

    metric = get_task(args.task).metrics[0]  # what the candidates are scored by (accuracy, Pearson's r, ...)
    ranking = read_ranking(Path(args.search))
    latency_teacher = json.loads((Path(args.search) / "search_summary.json").read_text())["latency_T"]
    speed = {k: latency_teacher / float(r["latency"]) for k, r in ranking.items()}
    errors = surrogate_searches(args, out)
    names = spread(ranking, args.candidates)
    score, seconds = {}, {}
    for n, name in enumerate(names, 1):
        t = time.perf_counter()
        metrics = make_student(args, name, out)
        score[name], seconds[name] = metrics["held_out_metrics"][metric], time.perf_counter() - t
        print(f"[{n}/{len(names)}] ⟨{name}⟩ {speed[name]:.2f}× faster: H {metric} {score[name]:.4f} "
              f"({seconds[name] / 60:.1f} min)", flush=True)
    teacher = json.loads((Path(args.task_teacher) / "metrics.json").read_text())["held_out_metrics"][metric]
    final = [score[n] for n in names]
    rhos = {what: rho_with_interval([e[n] for n in names], final) for what, e in errors.items()}
    inside = [n for n in names if speed[n] >= args.min_speedup]
    best = max(inside, key=lambda n: score[n]) if inside else None
    picks = {what: (min(inside, key=lambda n: e[n]) if inside else None) for what, e in errors.items()}
    lines = [f"# Does the surrogate predict the distilled score? ({args.task}, {len(names)} candidates, seed "
             f"{args.seed})", "", f"The teacher's H {metric}: {teacher:.4f}. Total time: "
             f"{(time.perf_counter() - started) / 60:.0f} min.", "",
             f"| ⟨D,A,H,I⟩ | speed-up | H {metric} | share of the teacher | " + " | ".join(errors) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(errors)]
    for n in names:
        lines.append(f"| ⟨{n}⟩ | {speed[n]:.2f}× | {score[n]:.4f} | {100 * score[n] / teacher:.1f}% | "
                     + " | ".join(f"{e[n]:.4f}" for e in errors.values()) + " |")
    lines += ["", f"| surrogate | Spearman ρ(−ê, H {metric}) | 95% bootstrap interval | pick within ≥ "
              f"{args.min_speedup:g}× | its H {metric} | points below the best there |", "|---|---:|---|---|---:|---:|"]
    for what, r in rhos.items():
        pick = picks[what]
        gap = 100 * (score[best] - score[pick]) if pick else math.nan
        lines.append(f"| {what} | {r['rho']:.2f} | [{r['low']:.2f}, {r['high']:.2f}] | "
                     f"{'⟨' + pick + '⟩' if pick else '—'} | {score[pick] if pick else math.nan:.4f} | {gap:.1f} |")
    lines += ["", f"The best within the budget: ⟨{best}⟩, {score[best]:.4f}." if best else "Nothing fits the budget."]
    (out / "search_predicts.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "search_predicts.json").write_text(json.dumps(
        {"names": names, "speed": speed, "score": score, "errors": errors, "rho": rhos, "picks": picks,
         "best": best, "teacher": teacher, "seconds": seconds, "argv": sys.argv[1:]}, indent=1), encoding="utf-8")
    plot(out / "search_predicts.png", names, speed, score, teacher, args.min_speedup, picks, metric)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
