"""``bort quickstart``: the pipeline on embedded data, on a laptop CPU, in minutes."""

from __future__ import annotations

import argparse
import sys
import time

from bort.cli.parse import out_dir

DESCRIPTION = """\
Runs the pipeline end to end on the data shipped with bort, with progress shown:
  1. the architecture table: exact parameter counts and FLOPs of Bort and the models it is
     compared with (bort arch);
  2. a short latency bench on this machine: RoBERTa-large, RoBERTa-base and Bort side by side,
     and Bort's int8 / ONNX fast paths with their parity (bort bench).
Everything it writes goes under --out."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("quickstart", help="the whole pipeline on embedded data, in minutes", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=out_dir, default="runs/quickstart", help="output directory (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="threads for timing (default: all cores torch sees)")
    p.set_defaults(run=run)


def _step(number: int, total: int, title: str) -> float:
    print(f"\n=== [{number}/{total}] {title}", flush=True)
    return time.perf_counter()


def run(args) -> int:
    from bort.cli import arch_cmd, bench_cmd

    steps = 2
    started = time.perf_counter()

    t = _step(1, steps, "architectures: exact parameter counts and FLOPs (bort arch)")
    arch_cmd.run(argparse.Namespace(archs=[], vocab=None, positions=None, type_vocab=None, like=None, json=False))
    print(f"    ({time.perf_counter() - t:.1f} s)")

    t = _step(2, steps, "latency on this machine, and Bort's fast paths (bort bench, short protocol)")
    bench_args = argparse.Namespace(
        models=["roberta-large", "roberta-base", "bort"], subject="bort", lengths=[128], batch_size=1,
        threads=args.threads, warmup=1, repeats=3, min_seconds=1.0,
        fast_paths=["torch-int8", "onnx-int8"], out=out_dir(str(args.out / "bench")), json=False,
    )
    bench_cmd.run(bench_args)
    print(f"    ({time.perf_counter() - t:.1f} s)")

    print(f"\nquickstart finished in {time.perf_counter() - started:.0f} s; outputs under {args.out}", file=sys.stderr)
    return 0
