"""``bort bench``: latency side by side, and Bort's CPU fast paths with their parity."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bort.config import HelpFormatter, add_options
from bort.inference.config import NAMED_MODELS, BenchConfig

DESCRIPTION = f"""\
In one process, under one protocol, for each batch size and sequence length: fp32 eager latency of
each model (random weights time exactly like trained ones; a model directory is timed with its own)
and of the subject's fast paths — bf16; PyTorch dynamic int8; torch.compile in fp32 and bf16; ONNX
Runtime fp32 and int8, as exported and fused by its transformer optimizer (one Attention node per
layer, skip-LayerNorm, bias-GELU), and fused int8 with SmoothQuant — with each path's parity with
eager (cosine and max |Δ| of the outputs). A path whose instruction set this CPU lacks is skipped,
saying which.

The roofline: this CPU's fp32, bf16 and int8 GEMM peaks are measured at the subject's own shapes
with the kernels the paths run, naming the instruction set that ran, and every row shows its
achieved GOP/s (its FLOPs by Lemma 1 over its median time) as a share of its precision's peak.

A shared machine's load comes in bursts, so every row is timed in the same interleaved rounds
(A B C, A B C, ...): each ratio to the subject is the median of the per-round ratios, with a 95%
bootstrap interval, and rounds go on until every interval is within ±--target (or --max-rounds,
--max-seconds). The CPU's load is read before and during the timing, with a warning when another
process took it. --batch 1,8,32 adds sequences per second at each batch size. ONNX Runtime runs
with thread spinning off, so it does not slow whatever is timed next.

Models: {', '.join(sorted(NAMED_MODELS))}, D,A,H,I (random weights), or a model directory (its own
weights and vocabulary: a teacher beside its student).
Writes bench.json, bench.md and bench.png to --out."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="latency side by side, and Bort's fast paths", description=DESCRIPTION,
                              formatter_class=HelpFormatter)
    add_options(p, BenchConfig)
    p.set_defaults(run=run, config_class=BenchConfig)


def run(cfg: BenchConfig) -> int:
    from bort.inference.bench import run_bench
    from bort.inference.bench_report import write_reports

    results = run_bench(cfg, progress=lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    text = write_reports(results, cfg.out)
    print(json.dumps(results, indent=2) if cfg.json
          else f"{text}\n\nwrote {Path(cfg.out) / 'bench.json'}, bench.md, bench.png")
    return 0
