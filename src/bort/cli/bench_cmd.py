"""``bort bench``: latency side by side, and Bort's CPU fast paths with their parity."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bort.config import HelpFormatter, add_options
from bort.inference.config import NAMED_MODELS, BenchConfig

DESCRIPTION = f"""\
In one process, under one protocol: fp32 eager latency of each model (random weights time exactly
like trained ones) at each sequence length, with its ratio to the subject model (Bort by default);
then the subject's fast paths — PyTorch dynamic int8, ONNX Runtime fp32 and int8, bf16 where the
CPU computes it natively — each with its speed-up over eager and its parity with eager (cosine and
max |Δ| of the outputs). ONNX Runtime runs with thread spinning off, so it does not slow whatever
is timed next.

Models: {', '.join(sorted(NAMED_MODELS))}, or D,A,H,I.
Writes bench.json, bench.md and bench.png to --out."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="latency side by side, and Bort's fast paths", description=DESCRIPTION,
                              formatter_class=HelpFormatter)
    add_options(p, BenchConfig)
    p.set_defaults(run=run, config_class=BenchConfig)


def run(cfg: BenchConfig) -> int:
    from bort.inference.bench import run_bench
    from bort.inference.bench_report import write_reports

    for n in cfg.lengths:
        cfg.protocol(n)  # validates batch, repeats, threads before any model is built
    results = run_bench(cfg, progress=lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    text = write_reports(results, cfg.out)
    print(json.dumps(results, indent=2) if cfg.json else f"{text}\n\nwrote {Path(cfg.out) / 'bench.json'}, bench.md, bench.png")
    return 0
