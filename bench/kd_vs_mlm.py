"""The paper's claim that distillation beats MLM-only pre-training, measured on real text.

One student architecture, trained twice for the same wall-clock budget on the same corpus, batches
and masks: once with masked LM alone, once distilled from a teacher (α·MLM + β·τ²·KL). Reports
held-out MLM accuracy of each and draws both curves (the paper's Figure 1) into --out/curves.png;
with --sst2-train N, fine-tunes each student on N SST-2 training sentences and reports dev accuracy.
The student lives in the teacher's vocabulary (its tokenizer and config family).

    python bench/kd_vs_mlm.py --teacher runs/real-teacher/teacher --seq-len 64 --minutes 8 --sst2-train 4000
    python bench/kd_vs_mlm.py --teacher runs/quickstart/teacher --minutes 3
    python bench/kd_vs_mlm.py --teacher-minutes 6 --minutes 3      # trains its own MLM teacher first
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.measure.device import device_record
from bort.pretrain.config import PretrainConfig
from bort.pretrain.curves import plot_curves
from bort.pretrain.trainer import pretrain
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]


def finetune_sst2(model_dir: Path, out: Path, args) -> dict:
    """Plain fine-tuning of one student on an SST-2 training subset; its best dev accuracy."""
    shutil.rmtree(out, ignore_errors=True)
    result = finetune(FinetuneConfig(model=str(model_dir), task="glue/SST-2", data=args.data, out=str(out), epochs=3,
                                     batch_size=32, lr=1e-4, max_len=64, max_train_examples=args.sst2_train, seed=0))
    return {"accuracy": result["dev"]["accuracy"], "majority": result["majority_baseline"]["accuracy"],
            "best_epoch": result["best_epoch"], "seconds": result["seconds"]}


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=[str(REPO.parent / "shared" / "data" / "text" / "gutenberg")])
    parser.add_argument("--teacher", help="an MLM teacher directory; trained here when absent")
    parser.add_argument("--teacher-arch", default="4,4,128,512")
    parser.add_argument("--teacher-minutes", type=float, default=6.0)
    parser.add_argument("--student-arch", default="2,4,128,256")
    parser.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget of each student")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--sst2-train", type=int, default=0, help="fine-tune each student on this many SST-2 "
                        "training sentences afterwards (0: skip)")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "glue" / "SST-2"))
    parser.add_argument("--out", default="runs/bench-kd-vs-mlm")
    args = parser.parse_args()

    out = Path(args.out)
    # A wall-clock budget, not a step count, ends each run: warm up for a fixed number of steps, then hold.
    common = dict(corpus=args.corpus, seq_len=args.seq_len, batch_size=16, lr=1e-3, warmup_steps=30,
                  schedule="constant", eval_every=50, save_every=1000, val_batches=8, log_every=10, seed=0,
                  cache_dir=str(out / "cache"), max_steps=100_000)
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
    teacher_final = teacher / "final_metrics.json"
    if teacher_final.is_file():  # the teacher's own held-out accuracy (the same split when its run used this corpus)
        results["teacher"] = {k: json.loads(teacher_final.read_text()).get(k) for k in ("step", "val_mlm_accuracy")}
    if args.sst2_train:
        for mode in ("mlm", "kd"):
            results[mode]["sst2"] = finetune_sst2(out / f"student-{mode}", out / f"sst2-{mode}", args)
    results["setup"] = {**vars(args), "teacher": str(teacher), "device": device_record("cpu").describe()}
    plot_curves({"student, MLM only": out / "student-mlm", "student, KD": out / "student-kd"}, out / "curves.png",
                baseline=results["baseline_most_frequent"])
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if args.sst2_train:
        print(f"SST-2 dev accuracy after fine-tuning on {args.sst2_train} sentences: KD "
              f"{results['kd']['sst2']['accuracy']:.4f} vs MLM-only {results['mlm']['sst2']['accuracy']:.4f} "
              f"(majority class {results['mlm']['sst2']['majority']:.4f})")
    if "teacher" in results:
        print(f"teacher: held-out MLM accuracy {results['teacher']['val_mlm_accuracy']:.4f}")
    print(f"same {args.minutes} min each: KD {results['kd']['val_mlm_accuracy']:.4f} "
          f"({results['kd']['step']} steps) vs "
          f"MLM-only {results['mlm']['val_mlm_accuracy']:.4f} ({results['mlm']['step']} steps); "
          f"most-frequent-token baseline {results['baseline_most_frequent']:.4f}")


if __name__ == "__main__":
    main()
