"""``bort quickstart``: the pipeline on embedded data, on a laptop CPU, in minutes."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bort.cli.parse import out_dir

DESCRIPTION = """\
Runs the pipeline end to end on the data shipped with bort (four public-domain novels), with
progress shown, in about ten minutes on a 2-core CPU:
  1. architectures: exact parameter counts and FLOPs of Bort and its comparisons (bort arch);
  2. latency on this machine: RoBERTa-large, RoBERTa-base and Bort side by side, and Bort's int8 /
     ONNX fast paths with their parity (bort bench, short protocol);
  3. a small teacher pre-trained with masked LM on the novels (bort pretrain --mode mlm);
  4. a smaller student distilled from it (bort pretrain --mode kd);
each pre-trained model's held-out MLM accuracy is printed beside the accuracy of always predicting
the most frequent token. Everything it writes goes under --out; a second run reuses nothing but
the tokenization cache."""

TEACHER_ARCH = [4, 4, 128, 512]
STUDENT_ARCH = [2, 4, 128, 256]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("quickstart", help="the whole pipeline on embedded data, in minutes", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=out_dir, default="runs/quickstart", help="output directory (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="threads for timing (default: all cores torch sees)")
    p.add_argument("--teacher-steps", type=int, default=300, help="MLM steps for the teacher (default: %(default)s)")
    p.add_argument("--student-steps", type=int, default=200, help="KD steps for the student (default: %(default)s)")
    p.set_defaults(run=run)


def _step(number: int, total: int, title: str) -> float:
    print(f"\n=== [{number}/{total}] {title}", flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)


def _pretrain(out: Path, **overrides):
    import shutil

    from bort.data import CORPUS_DIR
    from bort.pretrain.config import PretrainConfig
    from bort.pretrain.trainer import pretrain

    shutil.rmtree(out, ignore_errors=True)  # the quickstart starts each model afresh
    values = dict(corpus=[str(CORPUS_DIR)], out=str(out), seq_len=128, batch_size=16, lr=1e-3, warmup=0.06,
                  schedule="linear", eval_every=50, save_every=100, val_batches=8, log_every=10, seed=0,
                  cache_dir=str(out.parent / "cache"))
    final = pretrain(PretrainConfig(**{**values, **overrides}))
    base = final["baseline_most_frequent"]["accuracy"]
    print(f"    held-out MLM accuracy {final['val_mlm_accuracy']:.3f} vs {base:.3f} for always predicting the "
          f"most frequent token ({final['val_targets']} masked tokens from unseen passages)")
    return final


def run(args) -> int:
    from bort.cli import arch_cmd, bench_cmd
    from bort.pretrain.curves import plot_curves

    steps = 4
    started = time.perf_counter()

    t = _step(1, steps, "architectures: exact parameter counts and FLOPs (bort arch)")
    arch_cmd.run(argparse.Namespace(archs=[], vocab=None, positions=None, type_vocab=None, like=None, json=False))
    _done(t)

    t = _step(2, steps, "latency on this machine, and Bort's fast paths (bort bench, short protocol)")
    bench_args = argparse.Namespace(
        models=["roberta-large", "roberta-base", "bort"], subject="bort", lengths=[128], batch_size=1,
        threads=args.threads, warmup=1, repeats=3, min_seconds=1.0,
        fast_paths=["torch-int8", "onnx-int8"], out=out_dir(str(args.out / "bench")), json=False,
    )
    bench_cmd.run(bench_args)
    _done(t)

    teacher_dir = args.out / "teacher"
    t = _step(3, steps, f"a teacher ⟨{','.join(map(str, TEACHER_ARCH))}⟩ pre-trained with masked LM on four novels "
                        "(bort pretrain --mode mlm)")
    _pretrain(teacher_dir, mode="mlm", arch=TEACHER_ARCH, max_steps=args.teacher_steps)
    _done(t)

    student_dir = args.out / "student"
    t = _step(4, steps, f"a student ⟨{','.join(map(str, STUDENT_ARCH))}⟩ distilled from the teacher "
                        "(bort pretrain --mode kd)")
    _pretrain(student_dir, mode="kd", teacher=str(teacher_dir), arch=STUDENT_ARCH, max_steps=args.student_steps)
    _done(t)
    curves = plot_curves({"teacher (MLM)": teacher_dir, "student (KD)": student_dir}, args.out / "curves.png")
    if curves:
        print(f"    validation curves: {curves}")

    print(f"\nquickstart finished in {time.perf_counter() - started:.0f} s; outputs under {args.out}", file=sys.stderr)
    return 0
