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
  4. the FPTAS over a small space against that teacher, latency measured here (bort search);
  5. the architecture it chose, distilled from the teacher (bort pretrain --mode kd --config);
  6. that student fine-tuned on a sample of GLUE SST-2 and scored on its dev set (bort finetune).
Each pre-trained model's held-out MLM accuracy is printed beside the accuracy of always predicting
the most frequent token, and the fine-tuned student's dev accuracy beside the majority class.
Everything it writes goes under --out; a second run reuses only the tokenization cache."""

TEACHER_ARCH = [4, 4, 128, 512]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("quickstart", help="the whole pipeline on embedded data, in minutes", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=out_dir, default="runs/quickstart", help="output directory (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="threads for timing (default: all cores torch sees)")
    p.add_argument("--teacher-steps", type=int, default=300, help="MLM steps for the teacher (default: %(default)s)")
    p.add_argument("--student-steps", type=int, default=200, help="KD steps for the student (default: %(default)s)")
    p.add_argument("--search-steps", type=int, default=10, help="s, SGD steps per search candidate (default: %(default)s)")
    p.add_argument("--finetune-epochs", type=int, default=10, help="SST-2 fine-tuning epochs at most (default: %(default)s)")
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

    steps = 6
    started = time.perf_counter()

    t = _step(1, steps, "architectures: exact parameter counts and FLOPs (bort arch)")
    arch_cmd.run(argparse.Namespace(archs=[], vocab=None, positions=None, type_vocab=None, like=None, json=False))
    _done(t)

    t = _step(2, steps, "latency on this machine, and Bort's fast paths (bort bench, short protocol)")
    bench_args = argparse.Namespace(
        models=["roberta-large", "roberta-base", "bort"], subject="bort", lengths=[128], batch_size=1,
        threads=args.threads, warmup=1, repeats=3, min_seconds=1.0,
        fast_paths=["torch-int8", "onnx-int8"], onnx=[], out=out_dir(str(args.out / "bench")), json=False,
    )
    bench_cmd.run(bench_args)
    _done(t)

    teacher_dir = args.out / "teacher"
    t = _step(3, steps, f"a teacher ⟨{','.join(map(str, TEACHER_ARCH))}⟩ pre-trained with masked LM on four novels "
                        "(bort pretrain --mode mlm)")
    teacher = _pretrain(teacher_dir, mode="mlm", arch=TEACHER_ARCH, max_steps=args.teacher_steps)
    _done(t)

    search_dir = args.out / "search"
    t = _step(4, steps, "the FPTAS over the 'tiny' space against the teacher, latency measured here (bort search)")
    best = _search(teacher_dir, search_dir, args)
    _done(t)

    student_dir = args.out / "student"
    t = _step(5, steps, f"the chosen ⟨{','.join(map(str, best['arch']))}⟩ distilled from the teacher "
                        "(bort pretrain --mode kd --config search/best/config.json)")
    _pretrain(student_dir, mode="kd", teacher=str(teacher_dir), student_config=str(search_dir / "best" / "config.json"),
              max_steps=args.student_steps)
    _done(t)
    curves = plot_curves({"teacher (MLM)": teacher_dir, "student (KD)": student_dir}, args.out / "curves.png",
                         baseline=teacher["baseline_most_frequent"]["accuracy"])
    if curves:
        print(f"    validation curves: {curves}")

    t = _step(6, steps, "the student fine-tuned on a 2,000-sentence sample of GLUE SST-2, scored on its dev set "
                        "(bort finetune)")
    _finetune(student_dir, args.out / "sst2", args.finetune_epochs)
    _done(t)

    print(f"\nquickstart finished in {time.perf_counter() - started:.0f} s; outputs under {args.out}", file=sys.stderr)
    return 0


def _search(teacher_dir: Path, out: Path, args) -> dict:
    import shutil

    from bort.data import CORPUS_DIR
    from bort.search.config import SearchConfig
    from bort.search.runner import search

    shutil.rmtree(out, ignore_errors=True)
    cfg = SearchConfig(teacher=str(teacher_dir), corpus=[str(CORPUS_DIR)], out=str(out), space="tiny",
                       steps=args.search_steps, lr=0.05, batch_size=8, seq_len=128, val_batches=4,
                       latency_seq_len=128, latency_threads=args.threads, latency_repeats=5, seed=0,
                       cache_dir=str(out.parent / "cache"))
    summary = search(cfg)
    best = summary["best"]
    print(f"    {summary['candidates_kept']} candidates in {summary['total_seconds']:.0f} s; best by W: "
          f"⟨{','.join(map(str, best['arch']))}⟩ — {best['p'] / 1e6:.2f}M parameters, {best['i']:.2f} ms vs the "
          f"teacher's {summary['p_T'] / 1e6:.2f}M and {summary['i_T']:.2f} ms, ê {best['e']:.3f}, W {best['W']:.3g} "
          f"(ranking in {out / 'report.md'})")
    return best


def _finetune(model_dir: Path, out: Path, epochs: int) -> None:
    import shutil

    from bort.data import SST2_SAMPLE_DIR
    from bort.finetune.config import FinetuneConfig
    from bort.finetune.plain import finetune

    shutil.rmtree(out, ignore_errors=True)
    result = finetune(FinetuneConfig(model=str(model_dir), task="glue/SST-2", data=str(SST2_SAMPLE_DIR), out=str(out),
                                     epochs=epochs, batch_size=32, lr=1e-3, warmup=0.06, max_len=64, patience=3, seed=0))
    print(f"    SST-2 dev accuracy {result['dev']['accuracy']:.3f} vs {result['majority_baseline']['accuracy']:.3f} for "
          f"the majority class ({result['dev_examples']} dev sentences, best epoch {result['best_epoch']})")
