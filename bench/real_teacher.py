"""A real teacher: all-MiniLM-L6-v2 given a masked-LM head by continued MLM pre-training on the novels.

all-MiniLM-L6-v2 ships without a masked-LM head. `bort pretrain --mode mlm --init` adds one (tied to
the word embeddings) and trains the whole model on held-in documents of ../shared/data/text; beside
it, the same architecture in the same vocabulary is trained from random weights for --scratch-minutes,
on the same batches and masks. Both curves (held-out MLM accuracy by step and by minute) go to
OUT/curves.png; the teacher lands in OUT/teacher (an HF masked-LM directory) and is reused when present.

    python bench/real_teacher.py [--minutes 24] [--scratch-minutes 8] [--out runs/real-teacher]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bort.checkpoint import load_config
from bort.measure.device import device_record
from bort.pretrain.config import PretrainConfig
from bort.pretrain.curves import plot_curves, read_metrics
from bort.pretrain.trainer import pretrain
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
MINILM = REPO / "runs" / "models" / "all-MiniLM-L6-v2"


def run_once(cfg: PretrainConfig) -> dict:
    """Train, or reuse the finished run in cfg.out (its final_metrics.json), or continue an interrupted one (a
    re-run with the same configuration does)."""
    done = Path(cfg.out) / "final_metrics.json"
    if done.is_file():
        return json.loads(done.read_text())
    return pretrain(cfg)


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(MINILM), help="the pretrained encoder to start from")
    parser.add_argument("--corpus", nargs="+", default=[str(REPO.parent / "shared" / "data" / "text" / "gutenberg")])
    parser.add_argument("--minutes", type=float, default=24.0, help="wall-clock budget of the continued pre-training")
    parser.add_argument("--scratch-minutes", type=float, default=8.0, help="budget of the from-scratch comparison")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--out", default=str(REPO / "runs" / "real-teacher"))
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arch = load_config(args.model)
    shape = [arch.num_hidden_layers, arch.num_attention_heads, arch.hidden_size, arch.intermediate_size]
    # One corpus split, batch order and mask sequence for both runs (same seed, same tokenizer).
    common = dict(mode="mlm", corpus=args.corpus, seq_len=args.seq_len, batch_size=16, warmup_steps=30,
                  schedule="constant", eval_every=100, save_every=200, val_batches=20, log_every=10, seed=0,
                  tokenizer=args.model, cache_dir=str(out / "cache"), max_steps=1_000_000)
    teacher = run_once(PretrainConfig(init=args.model, out=str(out / "teacher"), lr=args.lr,
                                      max_minutes=args.minutes, **common))
    # From random weights a higher learning rate is the fair setting (2e-4 is tuned for the warm start).
    scratch = run_once(PretrainConfig(student_config=str(Path(args.model) / "config.json"), out=str(out / "scratch"),
                                      lr=1e-3, max_minutes=args.scratch_minutes, **common))
    baseline = teacher["baseline_most_frequent"]["accuracy"]
    plot_curves({"MiniLM + continued MLM (the real teacher)": out / "teacher",
                 "the same BERT from random weights": out / "scratch"}, out / "curves.png", baseline=baseline)

    def curve(run: str) -> list[tuple[int, float, float]]:
        return [(r["step"], round(r["wall_s"] / 60, 1), round(r["val_mlm_accuracy"], 4))
                for r in read_metrics(out / run) if "val_mlm_accuracy" in r]

    results = {"teacher": {k: teacher[k] for k in ("step", "val_mlm_accuracy", "val_mlm_loss")},
               "scratch": {k: scratch[k] for k in ("step", "val_mlm_accuracy", "val_mlm_loss")},
               "baseline_most_frequent": baseline, "teacher_curve": curve("teacher"), "scratch_curve": curve("scratch"),
               "setup": {**vars(args), "architecture": shape, "device": device_record("cpu").describe()}}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print("held-out MLM accuracy (step, minutes, accuracy):")
    for name in ("teacher", "scratch"):
        print(f"  {name}: " + ", ".join(f"{s}:{m}min:{a:.3f}" for s, m, a in results[f"{name}_curve"]))
    print(f"real teacher {results['teacher']['val_mlm_accuracy']:.4f} after {results['teacher']['step']} steps "
          f"({args.minutes} min); from scratch {results['scratch']['val_mlm_accuracy']:.4f} after "
          f"{results['scratch']['step']} steps ({args.scratch_minutes} min); most frequent token {baseline:.4f}; "
          f"teacher in {out / 'teacher'}, curves in {out / 'curves.png'}")


if __name__ == "__main__":
    main()
