"""The paper's claim that distillation beats MLM-only pre-training, measured on real text.

One student architecture, trained twice for the same wall-clock budget on the same corpus, batches
and masks: once with masked LM alone, once distilled from a teacher (α·MLM + β·τ²·KL). Reports
held-out MLM accuracy of each and draws both curves (the paper's Figure 1) into --out/curves.png.

    python bench/kd_vs_mlm.py --teacher runs/quickstart/teacher --minutes 3
    python bench/kd_vs_mlm.py --teacher-minutes 6 --minutes 3      # trains its own MLM teacher first
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bort.measure.device import device_record
from bort.pretrain.config import PretrainConfig
from bort.pretrain.curves import plot_curves
from bort.pretrain.trainer import pretrain
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=[str(REPO.parent / "shared" / "data" / "text" / "gutenberg")])
    parser.add_argument("--teacher", help="an MLM teacher directory; trained here when absent")
    parser.add_argument("--teacher-arch", default="4,4,128,512")
    parser.add_argument("--teacher-minutes", type=float, default=6.0)
    parser.add_argument("--student-arch", default="2,4,128,256")
    parser.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget of each student")
    parser.add_argument("--out", default="runs/bench-kd-vs-mlm")
    args = parser.parse_args()

    out = Path(args.out)
    # A wall-clock budget, not a step count, ends each run: warm up for a fixed number of steps, then hold.
    common = dict(corpus=args.corpus, seq_len=128, batch_size=16, lr=1e-3, warmup_steps=30, schedule="constant",
                  eval_every=50, save_every=1000, val_batches=8, log_every=10, seed=0, cache_dir=str(out / "cache"),
                  max_steps=100_000)
    if args.teacher:
        teacher = Path(args.teacher)
    else:
        teacher = out / "teacher"
        shutil.rmtree(teacher, ignore_errors=True)
        pretrain(PretrainConfig(mode="mlm", arch=[int(x) for x in args.teacher_arch.split(",")], out=str(teacher),
                                max_minutes=args.teacher_minutes, **common))
    student = [int(x) for x in args.student_arch.split(",")]
    results = {}
    for mode in ("mlm", "kd"):
        run_dir = out / f"student-{mode}"
        shutil.rmtree(run_dir, ignore_errors=True)
        final = pretrain(PretrainConfig(mode=mode, arch=student, out=str(run_dir), max_minutes=args.minutes,
                                        teacher=str(teacher) if mode == "kd" else None, **common))
        results[mode] = {k: final[k] for k in ("step", "val_mlm_accuracy", "val_mlm_loss", "val_targets")}
    results["baseline_most_frequent"] = final["baseline_most_frequent"]["accuracy"]
    results["setup"] = {**vars(args), "teacher": str(teacher), "device": device_record("cpu").describe()}
    plot_curves({"student, MLM only": out / "student-mlm", "student, KD": out / "student-kd"}, out / "curves.png",
                baseline=results["baseline_most_frequent"])
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"same {args.minutes} min each: KD {results['kd']['val_mlm_accuracy']:.4f} ({results['kd']['step']} steps) vs "
          f"MLM-only {results['mlm']['val_mlm_accuracy']:.4f} ({results['mlm']['step']} steps); "
          f"most-frequent-token baseline {results['baseline_most_frequent']:.4f}")


if __name__ == "__main__":
    main()
