"""Does Agora help? Agora against plain fine-tuning, paired, over seeds × tasks × student sizes.

Setting (scarce data, the paper's): the student (Timaeus) — cut out of the teacher by `bort extract`
and distilled — sees --train-examples labelled examples of the task. Socrates is the teacher itself
(all-MiniLM-L6-v2) fine-tuned on the task's training set and selected on a slice of it, never on dev
(bench/agora_socrates.py). φ = mlm-replace, sampling from the teacher's masked LM. Θ = two learning rates,
--epochs epochs each, ≤ --max-iterations iterations, the same for every run.

"Plain" is Agora's own first iteration: the same Θ trained on the original data and selected on E —
fine-tuning's grid search, with the same budget rules. Both are scored on the same H (the held-out
half of dev). A seed changes the E/H split, the training subset, the head's initialisation and the data
order. Per (student, task) the table reports mean ± sd over seeds, the paired difference with a 95%
bootstrap interval over seeds × H examples (bort.tasks.paired), the trainings and CPU minutes of each
method, and the diagnostics each Agora run logged (φ check, Socrates' agreement with the source's gold
label, edit distances, collapsed trainings). Variants (--variant NAME="FLAGS") run Agora with more flags
and are compared, paired, with plain and with the first variant.

Every run is cached under --out; a rerun continues. --shard I/N runs every N-th run (two shards side by
side on a 2-core machine, one thread each); --report only aggregates what is on disk.

    python bench/agora_socrates.py                       # Socrates per task, once
    python bench/agora_vs_plain.py --shard 0/2 & python bench/agora_vs_plain.py --shard 1/2; \\
    python bench/agora_vs_plain.py --report
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import time
from pathlib import Path

from bort.agora.config import AgoraConfig
from bort.agora.loop import agora
from bort.measure.device import device_record
from bort.tasks import get_task
from bort.tasks.paired import paired_bootstrap
from bort.util.io import write_text_atomic
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "runs" / "agora-bench"
LRS = (3e-4, 1e-4)  # extracted students fine-tune best near 3e-4 (bench/extract_vs_scratch.py)
MAX_LEN = {"glue/SST-2": 64, "glue/CoLA": 64, "glue/MRPC": 96, "glue/RTE": 96}  # pairs cut at 96 for CPU time
SHARED = "shared_first_iteration.json"
VARIANTS = (  # the paper's loop as read, then the fixes the diagnostics pointed to (README, "Does Agora help?")
    ("agora", ""),
    ("retrain-winner", "--prune worst-shared-run"),
    ("filtered", "--prune worst-shared-run --min-confidence 0.9 --keep-label-balance --max-added-share 0.25"),
)
VARIANT_FLAGS = {"--keep-label-balance": ("keep_label_balance", bool), "--min-confidence": ("min_confidence", float),
                 "--phi-per-mistake": ("phi_per_mistake", int), "--phi-fraction": ("phi_fraction", float),
                 "--replay": ("replay", int), "--prune": ("prune", str),
                 "--max-added-share": ("max_added_share", float),
                 "--head": ("head", str), "--max-iterations": ("max_iterations", int)}
PLAN = ["25%:glue/SST-2", "50%:glue/SST-2", "25%:glue/CoLA", "25%:glue/MRPC", "25%:glue/RTE", "head:25%:glue/SST-2",
        "50%:glue/CoLA", "50%:glue/MRPC", "50%:glue/RTE"]  # most informative first, for a CPU budget
HEAD_VARIANT = ("head-linear", "--head linear --max-iterations 1")  # plain fine-tuning alone, the paper's head


def variant_settings(flags: str) -> dict:
    """``--keep-label-balance --min-confidence 0.8`` → AgoraConfig fields."""
    words, settings = shlex.split(flags), {}
    while words:
        flag = words.pop(0)
        field, kind = VARIANT_FLAGS[flag]
        settings[field] = True if kind is bool else kind(words.pop(0))
    return settings


def share_first_iteration(reference: Path, out: Path, cfg: AgoraConfig) -> None:
    """Start a variant's run from the reference run's first iteration. Iteration 1 trains Θ on the original data
    and reads none of the flags a variant changes (they act on the new points), so its trainings are the very
    ones the variant would make; sharing them also makes the variants' plain baselines one and the same.
    Everything iteration 1 made after its trainings (its new points) is left out and made again."""
    from bort.agora import loop
    from bort.util.io import read_log

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("best", "plain_best"):
        shutil.copytree(reference / loop.PLAIN_BEST, staging / name)  # iteration 1's winner is both, so far
    first = [r for r in read_log(reference / loop.TRAININGS_LOG) if r["iteration"] == 1]
    write_text_atomic(staging / loop.TRAININGS_LOG, "".join(json.dumps(r) + "\n" for r in first))
    (staging / loop.DIAGNOSTICS).mkdir()
    shutil.copy(reference / loop.DIAGNOSTICS / "iteration-1.json", staging / loop.DIAGNOSTICS)
    for name in (loop.LABELS, loop.PHI_CHECK):
        if (reference / name).is_file():
            shutil.copy(reference / name, staging / name)
    cfg.save(staging / loop.CONFIG_FILE)
    (staging / SHARED).write_text(json.dumps({"reference": str(reference)}))  # its CPU is counted from there
    staging.rename(out)


def run_one(args, variant: str, flags: str, student: str, student_dir: str, task: str, seed: int,
            reference: str | None) -> Path:
    name = task.split("/")[1]
    out = Path(args.out) / variant / student / name / f"seed-{seed}"
    if (out / "metrics.json").is_file():
        return out
    socrates = Path(args.socrates) / name
    while not (socrates / "metrics.json").is_file():  # bench/agora_socrates.py may still be training it
        print(f"waiting for {socrates} ...", flush=True)
        time.sleep(60)
    theta = Path(args.out) / f"theta-seed-{seed}.json"
    if not theta.is_file():  # shared by the processes side by side: written once, whole
        theta.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(theta, json.dumps([{"lr": lr, "weight_decay": 0.01, "warmup_ratio": 0.1, "seed": seed}
                                             for lr in LRS]))
    settings = {"method": "agora", "model": student_dir, "socrates": str(Path(args.socrates) / name), "task": task,
                "data": str(Path(args.data) / task), "out": str(out), "theta": str(theta), "epochs": args.epochs,
                "batch_size": 16, "max_len": MAX_LEN.get(task, 128), "max_train_examples": args.train_examples,
                "phi_model": args.phi_model, "max_iterations": args.max_iterations, "seed": seed, "force": True}
    cfg = AgoraConfig(**{**settings, **variant_settings(flags)})
    if reference and not out.exists():
        first = Path(args.out) / reference / student / name / f"seed-{seed}"
        if not (first / "metrics.json").is_file():
            first = run_one(args, reference, "", student, student_dir, task, seed, None)
        share_first_iteration(first, out, cfg)
    agora(cfg, show_progress=False)
    return out


def read_predictions(path: Path) -> tuple[list, list]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r["label"] for r in rows], [r["prediction"] for r in rows]


def summarise(args, variants: list[tuple[str, str]], students: dict[str, str]) -> None:
    first = variants[0][0]
    print(f"\nStudents: {', '.join(f'{k} = {v}' for k, v in students.items())}; {args.train_examples} labelled "
          f"examples per task; Θ = lr {{{', '.join(f'{lr:g}' for lr in LRS)}}}, {args.epochs} epochs, ≤ "
          f"{args.max_iterations} iterations; seeds {args.seeds}; φ = mlm-replace from {args.phi_model}; "
          f"Socrates = the teacher fine-tuned per task ({args.socrates}). {device_record('cpu').describe()}\n")
    print("| student | task | H metric | variant | seeds | plain mean ± sd | Agora mean ± sd | Agora − plain [95%] | "
          f"vs {first} [95%] | Socrates E / H | trainings plain, Agora | CPU min plain, Agora (×) | φ keeps gold "
          "| Socrates keeps source label | edit distance | collapsed trainings | new points kept |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entry in (e for e in args.plan if not e.startswith("head:")):
        student, task = entry.split(":")
        spec, name = get_task(task), task.split("/")[1]
        metric = spec.metrics[0]
        base_runs = None
        for variant, _ in variants:
            dirs = [Path(args.out) / variant / student / name / f"seed-{s}" for s in args.seeds]
            dirs = [d for d in dirs if (d / "metrics.json").is_file()]
            if not dirs:
                continue
            ms = [json.loads((d / "metrics.json").read_text()) for d in dirs]
            runs = []
            for d in dirs:
                gold, agora_pred = read_predictions(d / "held_out_predictions.jsonl")
                _, plain_pred = read_predictions(d / "plain_held_out_predictions.jsonl")
                runs.append((gold, agora_pred, plain_pred))
            diff = paired_bootstrap(metric, runs, seed=1)
            vs_first = "–"
            if variant == first:
                base_runs = {d.name: r for d, r in zip(dirs, runs)}
            elif base_runs:
                pairs = [(g, a, base_runs[d.name][1]) for d, (g, a, _) in zip(dirs, runs) if d.name in base_runs]
                vs_first = str(paired_bootstrap(metric, pairs, seed=2)) if pairs else "–"
            plain = [m["plain_grid"]["held_out_metrics"][metric] for m in ms]
            ag = [m["held_out_metrics"][metric] for m in ms]
            sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
            its = [it for d in dirs for it in map(json.loads, (d / "iterations.jsonl").read_text().splitlines())]
            diags = [it["diagnostics"] for it in its if it["iteration"] > 0]
            keeps = [x["made"]["socrates_keeps_source_label"] for x in diags if x["made"]["points"]]
            dist = [x["made"]["edit_distance_mean"] for x in diags if x["made"]["points"]]
            checks = [m["phi_check"]["socrates_on_perturbed"] for m in ms if m.get("phi_check")]
            collapsed = sum(len(x["collapsed"]) for x in diags)
            kept = sum(x["kept"]["points"] for x in diags)
            made = sum(x["made"]["points"] for x in diags)
            plain_cpu = statistics.mean(m["plain_grid"]["training_cpu_seconds"] for m in ms) / 60
            agora_cpu = statistics.mean(m["cpu_seconds"] + (m["plain_grid"]["training_cpu_seconds"] if
                                                            (d / SHARED).is_file() else 0.0)
                                        for m, d in zip(ms, dirs)) / 60
            socrates_h = statistics.mean(m["socrates"]["held_out_metrics"][metric] for m in ms)
            socrates_e = statistics.mean(m["socrates"]["e_agreement"] for m in ms)
            mean = statistics.mean
            print(f"| {student} | {name} | {metric} | {variant} | {len(dirs)} | {mean(plain):.4f} ± {sd(plain):.4f} | "
                  f"{mean(ag):.4f} ± {sd(ag):.4f} | {diff} | {vs_first} | {socrates_e:.3f} / {socrates_h:.4f} | "
                  f"{mean(m['plain_grid']['trainings'] for m in ms):.0f}, {mean(m['trainings'] for m in ms):.1f} | "
                  f"{plain_cpu:.1f}, {agora_cpu:.1f} ({agora_cpu / plain_cpu:.1f}×) | "
                  f"{mean(checks) if checks else float('nan'):.3f} | {mean(keeps) if keeps else float('nan'):.3f} | "
                  f"{mean(dist) if dist else float('nan'):.2f} | {collapsed} of {sum(len(it['ranked']) for it in its)}"
                  f" | {kept} of {made} |")
    print(f"\nseeds per row: {len(args.seeds)} (a row shows only the seeds finished); the interval resamples seeds "
          "and H examples (bort.tasks.paired).")


def head_comparison(args, reference: str, student: str, task: str) -> None:
    """Plain fine-tuning (Agora's iteration 1: the same Θ, selected on E) with the paper's linear head against the
    default head, paired on each seed's H."""
    spec, name = get_task(task), task.split("/")[1]
    metric = spec.metrics[0]
    runs, linear, pooler = [], [], []
    for seed in args.seeds:
        a, b = (Path(args.out) / v / student / name / f"seed-{seed}" for v in (HEAD_VARIANT[0], reference))
        if (a / "metrics.json").is_file() and (b / "metrics.json").is_file():
            gold, pred_a = read_predictions(a / "plain_held_out_predictions.jsonl")
            _, pred_b = read_predictions(b / "plain_held_out_predictions.jsonl")
            runs.append((gold, pred_a, pred_b))
            linear.append(json.loads((a / "metrics.json").read_text())["plain_grid"]["held_out_metrics"][metric])
            pooler.append(json.loads((b / "metrics.json").read_text())["plain_grid"]["held_out_metrics"][metric])
    if runs:
        sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
        print(f"\nThe paper's linear head (--head linear) against the default pooler head, plain fine-tuning of the "
              f"{student} student on {name}, H {metric}, {len(runs)} seeds: linear {statistics.mean(linear):.4f} ± "
              f"{sd(linear):.4f}, pooler {statistics.mean(pooler):.4f} ± {sd(pooler):.4f}, linear − pooler "
              f"{paired_bootstrap(metric, runs, seed=3)}")


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", nargs="+", default=[f"50%={BENCH / 'students' / '3-12-384-1536'}",
                                                          f"25%={BENCH / 'students' / '3-8-256-1024'}"],
                        help="NAME=DIR: the students (Timaeus), extracted and distilled")
    parser.add_argument("--socrates", default=str(BENCH / "socrates"), help="one Socrates per task, by task name")
    parser.add_argument("--phi-model", default=str(BENCH / "teacher"), help="the masked LM φ samples from")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--variant", action="append", default=None, metavar='NAME="FLAGS"',
                        help="an Agora variant (the first is the reference); default: the three of VARIANTS")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--train-examples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-iterations", type=int, default=3)
    parser.add_argument("--out", default=str(BENCH / "runs"))
    parser.add_argument("--plan", nargs="+", default=PLAN, metavar="STUDENT:TASK | head:STUDENT:TASK",
                        help="what to run, in order, each for every seed: the variants of a student on a task, or "
                             "plain fine-tuning with --head linear against the default head")
    parser.add_argument("--report", action="store_true", help="only print the table of what is on disk")
    parser.add_argument("--claims", help="where the processes sharing the plan claim its entries (default: OUT/claims)")
    args = parser.parse_args()

    variants = [tuple(v.split("=", 1)) for v in args.variant] if args.variant else list(VARIANTS)
    students = dict(s.split("=", 1) for s in args.students)
    reference = variants[0][0]
    if not args.report:
        # Each (plan entry, seed) is claimed by one process (a file made with O_EXCL), so that several processes
        # side by side share the plan; a variant starts from its reference's run, in the same process.
        claims = Path(args.claims or Path(args.out) / "claims")
        claims.mkdir(parents=True, exist_ok=True)
        for entry in args.plan:
            head, (student, task) = entry.startswith("head:"), entry.removeprefix("head:").split(":")
            for seed in args.seeds:
                try:
                    os.close(os.open(claims / f"{entry.replace('/', '_')}-seed-{seed}", os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    continue
                jobs = [(*HEAD_VARIANT, None)] if head else [(v, f, None if v == reference else reference)
                                                              for v, f in variants]
                for variant, flags, ref in jobs:
                    out = run_one(args, variant, flags, student, students[student], task, seed, ref)
                    m = json.loads((out / "metrics.json").read_text())
                    metric = next(iter(m["held_out_metrics"]))
                    print(f"{out}: H {metric} Agora {m['held_out_metrics'][metric]:.4f}, plain "
                          f"{m['plain_grid']['held_out_metrics'][metric]:.4f}", flush=True)
    summarise(args, variants, students)
    for entry in (e for e in args.plan if e.startswith("head:")):
        head_comparison(args, reference, *entry.removeprefix("head:").split(":"))


if __name__ == "__main__":
    main()
