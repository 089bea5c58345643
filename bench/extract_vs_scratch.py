"""Students born from their teacher against students trained from scratch, at ≈50% and ≈25% of the encoder.

For each student shape, four starts, each distilled (or not) from the same masked-LM teacher and then
fine-tuned with the same recipe on five GLUE tasks:

  random + KD        today's path: random weights, KD for --kd-steps
  embeddings + KD    the teacher's embeddings (its kept channels), random layers, KD for --kd-steps
  extracted          `bort extract`, no distillation
  extracted + KD     `bort extract`, then KD for --kd-steps
  extracted + KD + hidden/attention   the same with the intermediate losses (only when --hidden-weight or
                     --attention-weight is given)

Reported: held-out MLM accuracy on documents of the corpus no model trained on, dev scores (SST-2 acc,
MRPC F1, STS-B Pearson, RTE acc, CoLA MCC) after the same fine-tuning recipe (each start's learning rate
chosen from --lr-grid on SST-2 dev, then used on every task), their average as a share of the teacher's
under the same recipe, and the latency ratio to the teacher from one interleaved timing (batch 1 ×
128 tokens). Every finished piece is appended to OUT/results.jsonl and reused on a re-run.

    python bench/extract_vs_scratch.py --teacher runs/extract-bench/teacher [--out runs/extract-bench]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import torch

from bort.architecture import Arch
from bort.architecture.counting import count_params
from bort.architecture.hf_config import arch_of, student_config
from bort.checkpoint import load_config, load_encoder, load_masked_lm, save_model_dir
from bort.extract.config import ExtractConfig
from bort.extract.extractor import extract
from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.measure.device import device_record
from bort.measure.interleaved import time_interleaved
from bort.measure.latency import LatencyProtocol, fixed_input
from bort.mlm.corpus import resolve_corpus
from bort.mlm.dataset import build_splits
from bort.mlm.evaluation import MaskedEvalSet
from bort.pretrain.config import PretrainConfig
from bort.pretrain.trainer import pretrain
from bort.tokenizer import tokenizer_for_model
from bort.util.io import append_log, read_log
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
TASKS = {"SST-2": "accuracy", "MRPC": "f1", "STS-B": "pearson", "RTE": "accuracy", "CoLA": "mcc"}
STARTS = ("random + KD", "embeddings + KD", "extracted", "extracted + KD")


class Results:
    """results.jsonl: one record per finished piece, keyed; a re-run skips what is there."""

    def __init__(self, path: Path):
        self.path = path
        self.done = {r["key"]: r for r in read_log(path)}

    def get(self, key: str, make):
        if key not in self.done:
            record = {"key": key, **make()}
            append_log(self.path, record)
            self.done[key] = record
        return self.done[key]


def make_start(start: str, extracted: Path, teacher: Path, arch: Arch, out: Path, seed: int) -> Path:
    """The model directory a start begins from (the extracted one is shared)."""
    if start.startswith("extracted"):
        return extracted
    target = out / start.split()[0]
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForMaskedLM

    torch.manual_seed(seed)
    model = AutoModelForMaskedLM.from_config(student_config(load_config(teacher), arch))
    if start.startswith("embeddings"):  # the extracted student's embeddings (and tied decoder), everything else new
        source = AutoModelForMaskedLM.from_pretrained(extracted, local_files_only=True)
        model.base_model.embeddings.load_state_dict(source.base_model.embeddings.state_dict())
        model.tie_weights()
    save_model_dir(model, tokenizer_for_model(teacher), target)
    return target


def mlm_accuracy(model_dir: Path, eval_set: MaskedEvalSet) -> float:
    return eval_set.evaluate(load_masked_lm(model_dir), "cpu")["val_mlm_accuracy"]


def fine_tune(model_dir: Path, task: str, lr: float, out: Path, args, seed: int | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    result = finetune(FinetuneConfig(model=str(model_dir), task=f"glue/{task}", data=str(DATA / "glue" / task),
                                     out=str(out), epochs=args.epochs, batch_size=32, lr=lr, warmup_ratio=0.1,
                                     max_len=args.max_len, patience=args.epochs, max_train_examples=args.train,
                                     seed=args.seed if seed is None else seed), show_progress=False)
    shutil.rmtree(out, ignore_errors=True)  # the score is what is kept
    return {"score": result["dev"][TASKS[task]], "seconds": time.perf_counter() - started}


def glue(name: str, model_dir: Path, results: Results, args) -> dict:
    """The start's learning rate chosen on SST-2 dev from the grid, then every task with it."""
    sst2 = {lr: results.get(f"{name}|SST-2|{lr}",
                            lambda lr=lr: fine_tune(model_dir, "SST-2", lr, args.out / "ft", args))
            for lr in args.lr_grid}
    lr = max(args.lr_grid, key=lambda v: sst2[v]["score"])
    # SST-2 with more seeds at the chosen rate (the seed draws the training subset, the head and the order)
    more = args.sst2_seeds if not args.sst2_seeds_for or any(p in name for p in args.sst2_seeds_for) else 1
    seeds = [sst2[lr]["score"]] + [results.get(f"{name}|SST-2|{lr}|seed{seed}", lambda seed=seed: fine_tune(
        model_dir, "SST-2", lr, args.out / "ft", args, seed=args.seed + seed))["score"] for seed in range(1, more)]
    scores = {"SST-2": statistics.mean(seeds)}
    for task in TASKS:
        if task != "SST-2":
            scores[task] = results.get(f"{name}|{task}|{lr}",
                                       lambda t=task: fine_tune(model_dir, t, lr, args.out / "ft", args))["score"]
    return {"lr": lr, "scores": scores, "average": statistics.mean(scores.values()), "sst2_seeds": seeds}


def latencies(models: dict[str, Path]) -> dict[str, list[float]]:
    """Each model's latency ratio to the teacher (median per-round ratio and its 95% interval), one run."""
    protocol = LatencyProtocol(batch_size=1, seq_len=128, threads=None, warmup_runs=2, repeats=10, max_rounds=30,
                               max_seconds=90, target_half_width=0.02)
    forwards = {}
    for name, path in models.items():
        model = load_encoder(path)
        inputs = fixed_input(model.config.vocab_size, protocol)
        forwards[name] = (lambda m=model, x=inputs: m(**x))
    with torch.inference_mode():
        rounds = time_interleaved(forwards, protocol, reference="teacher")
    return {name: [r.median, r.low, r.high] for name in models if name != "teacher"
            for r in [rounds.ratio("teacher", name)]}


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="a masked-LM teacher directory")
    parser.add_argument("--students", nargs="+", default=["3,12,384,1536", "3,8,256,1024"])
    parser.add_argument("--corpus", nargs="+", default=[str(DATA / "text" / "gutenberg")])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "extract-bench")
    parser.add_argument("--kd-steps", type=int, default=400)
    parser.add_argument("--kd-lr-extracted", type=float, default=1e-4)
    parser.add_argument("--kd-lr-random", type=float, default=5e-4)
    parser.add_argument("--hidden-weight", type=float, default=0.0)
    parser.add_argument("--attention-weight", type=float, default=0.0)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--train", type=int, default=800, help="training examples per GLUE task")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--lr-grid", type=float, nargs="+", default=[1e-4, 3e-4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sst2-seeds", type=int, default=2,
                        help="SST-2 seeds at the chosen learning rate (mean reported)")
    parser.add_argument("--sst2-seeds-for", nargs="+", default=None, metavar="TEXT",
                        help="only the rows whose name contains one of these take the extra seeds (default: all)")
    parser.add_argument("--cache", type=Path, default=None, help="tokenization cache (default: OUT/cache)")
    parser.add_argument("--students-only", action="store_true",
                        help="distil and score the students only (no teacher row, no timing, no table): for a second "
                        "process sharing the work; copy its results.jsonl into the main OUT and run again to report")
    args = parser.parse_args()
    args.cache = args.cache or args.out / "cache"
    args.out.mkdir(parents=True, exist_ok=True)
    results = Results(args.out / "results.jsonl")
    teacher = Path(args.teacher)
    started = time.perf_counter()

    # The held-out text: the validation documents of the split every KD run uses (same seed, same packing).
    tokenizer = tokenizer_for_model(teacher)
    train, val = build_splits(resolve_corpus(args.corpus), tokenizer, args.seq_len, args.cache, seed=args.seed)
    eval_set = MaskedEvalSet(val, 16, 40, tokenizer, 0.15, args.seed)
    baseline = eval_set.most_frequent_baseline(train, tokenizer.all_special_ids)["accuracy"]

    rows = [] if args.students_only else [
        {"name": "teacher", "arch": arch_of(load_config(teacher)).as_list(),
         "mlm": results.get("teacher|mlm", lambda: {"value": mlm_accuracy(teacher, eval_set)})["value"],
         **glue("teacher", teacher, results, args)}]
    dirs = {"teacher": teacher}
    for text in args.students:
        arch = Arch.parse(text)
        root = args.out / "students" / text.replace(",", "-")
        extracted = root / "extracted"
        if not (extracted / "config.json").is_file():
            shutil.rmtree(extracted, ignore_errors=True)
            extract(ExtractConfig(teacher=str(teacher), arch=arch.as_list(), corpus=args.corpus, out=str(extracted),
                                  seq_len=128, cache_dir=str(args.cache)), show_progress=False)
        dirs[str(arch)] = extracted
        starts = STARTS + (("extracted + KD + hidden/attention",)
                           if args.hidden_weight or args.attention_weight else ())
        for start in starts:
            name = f"{arch} {start}"
            model_dir = make_start(start, extracted, teacher, arch, root, args.seed)
            if "KD" in start:
                run_dir = root / start.replace(" + ", "-").replace(" ", "-").replace("/", "-")
                lr = args.kd_lr_extracted if start.startswith("extracted") else args.kd_lr_random
                intermediate = start.endswith("attention")
                kd = results.get(f"{name}|kd", lambda: _distil(teacher, model_dir, run_dir, lr, args, intermediate))
                model_dir = run_dir
            else:
                kd = {"seconds": 0.0, "steps": 0}
            mlm = results.get(f"{name}|mlm", lambda d=model_dir: {"value": mlm_accuracy(d, eval_set)})["value"]
            rows.append({"name": name, "arch": arch.as_list(), "mlm": mlm, "kd_seconds": kd["seconds"],
                         **glue(name, model_dir, results, args)})
    if args.students_only:
        print(f"students scored: {args.out / 'results.jsonl'}")
        return
    ratios = results.get("latency", lambda: {"ratios": latencies(dirs)})["ratios"]
    print(report(rows, ratios, baseline, args, time.perf_counter() - started))


def _distil(teacher: Path, init: Path, out: Path, lr: float, args, intermediate: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    pretrain(PretrainConfig(mode="kd", teacher=str(teacher), init=str(init), corpus=args.corpus, out=str(out),
                            seq_len=args.seq_len, batch_size=16, lr=lr, schedule="linear",
                            warmup_steps=max(1, args.kd_steps // 10), max_steps=args.kd_steps, eval_every=args.kd_steps,
                            save_every=args.kd_steps, val_batches=8, seed=args.seed,
                            hidden_weight=args.hidden_weight if intermediate else 0.0,
                            attention_weight=args.attention_weight if intermediate else 0.0,
                            cache_dir=str(args.cache)), show_progress=False)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return {"seconds": time.perf_counter() - started, "steps": args.kd_steps}


def majority(task: str) -> float:
    """The dev metric of always predicting the training set's most frequent label (its mean for STS-B)."""
    from bort.tasks import get_task
    from bort.tasks.predict import majority_baseline

    spec = get_task(f"glue/{task}")
    folder = DATA / "glue" / task
    return majority_baseline(spec, spec.read(folder, "train"), spec.read(folder, "dev"))[TASKS[task]]


def report(rows: list[dict], ratios: dict, baseline: float, args, seconds: float) -> str:
    teacher = rows[0]
    floor = {t: majority(t) for t in TASKS}
    # the tasks this recipe teaches the teacher: ≥ 2 points above the majority class
    learnt = [t for t in TASKS if teacher["scores"][t] - floor[t] >= 0.02] or list(TASKS)
    teacher_encoder = count_params(Arch(*teacher["arch"])).encoder
    lines = ["| model | encoder params (share) | speed vs teacher [95%] | start | KD | held-out MLM acc | "
             + " | ".join(f"{t} ({m})" for t, m in TASKS.items()) + " | GLUE avg | share of teacher | avg of "
             + ", ".join(learnt) + " | share | lr |",
             "|---|---:|---:|---|---:|---:|" + "---:|" * len(TASKS) + "---:|---:|---:|---:|---:|",
             "| majority class | | | | | | " + " | ".join(f"{100 * floor[t]:.1f}" for t in TASKS) + " | "
             + f"{100 * statistics.mean(floor.values()):.1f} | | "
             f"{100 * statistics.mean(floor[t] for t in learnt):.1f} | | |"]
    teacher_learnt = statistics.mean(teacher["scores"][t] for t in learnt)
    for row in rows:
        arch = Arch(*row["arch"])
        encoder = count_params(arch).encoder
        key = str(arch)
        speed = "1.00×" if row is teacher else "{:.2f}× [{:.2f}, {:.2f}]".format(*ratios[key])
        start = "—" if row is teacher else row["name"].split("⟩ ")[1]
        kd = f"{row.get('kd_seconds', 0) / 60:.1f} min" if row.get("kd_seconds") else "—"
        seeds = "/".join(f"{100 * v:.1f}" for v in row["sst2_seeds"])  # SST-2 is a mean: its seeds beside it
        scores = " | ".join(f"{100 * row['scores'][t]:.1f}" + (f" ({seeds})" if t == "SST-2" else "") for t in TASKS)
        lines.append(f"| {key if row is not teacher else 'teacher ' + key} | {encoder / 1e6:.2f}M "
                     f"({100 * encoder / teacher_encoder:.0f}%) | {speed} | {start} | {kd} | {row['mlm']:.3f} | "
                     f"{scores} | {100 * row['average']:.1f} | {100 * row['average'] / teacher['average']:.0f}% | "
                     f"{100 * statistics.mean(row['scores'][t] for t in learnt):.1f} | "
                     f"{100 * statistics.mean(row['scores'][t] for t in learnt) / teacher_learnt:.0f}% | "
                     f"{row['lr']:g} |")
    lines.append(f"\nMost-frequent-token MLM baseline {baseline:.3f}. KD: {args.kd_steps} steps of 16 × {args.seq_len} "
                 f"tokens (lr {args.kd_lr_extracted:g} extracted, {args.kd_lr_random:g} random/embeddings; "
                 f"intermediate weights: hidden {args.hidden_weight:g}, attention {args.attention_weight:g}). "
                 "Fine-tuning: "
                 f"{args.train} training examples per task, {args.epochs} epochs, {args.max_len} tokens, batch 32, "
                 f"lr from {args.lr_grid} chosen on SST-2 dev; full dev sets; seed {args.seed} (SST-2: the mean of the "
                 "seeds in brackets). "
                 f"{seconds / 60:.0f} min in all on {device_record('cpu').describe()}.")
    table = "\n".join(lines)
    (args.out / "results.md").write_text(table + "\n")
    return table


if __name__ == "__main__":
    main()
