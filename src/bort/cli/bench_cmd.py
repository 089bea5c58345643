"""``bort bench``: latency side by side, and Bort's CPU fast paths with their parity."""

from __future__ import annotations

import argparse
import json
import sys

from bort.util.io import write_json_atomic, write_text_atomic
from bort.cli.parse import csv_ints, csv_strs, out_dir
from bort.inference.bench import FAST_PATHS, NAMED_MODELS, BenchConfig

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
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    d = BenchConfig()
    p.add_argument("--models", nargs="+", default=d.models, metavar="MODEL",
                   help="models by name or D,A,H,I, space-separated (default: %(default)s)")
    p.add_argument("--subject", default=d.subject, help="the model ratios refer to and fast paths speed up (default: %(default)s)")
    p.add_argument("--lengths", type=csv_ints, default=d.lengths, help="sequence lengths (default: 128,512)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="batch size (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores torch sees)")
    p.add_argument("--warmup", type=int, default=d.warmup, help="untimed runs first (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=d.repeats, help="at least this many timed runs (default: %(default)s)")
    p.add_argument("--min-seconds", type=float, default=d.min_seconds,
                   help="fast models repeat until this much time is timed (default: %(default)s)")
    p.add_argument("--fast-paths", type=csv_strs, default=d.fast_paths,
                   help=f"subset of {','.join(FAST_PATHS)}; 'none' for none (default: all)")
    p.add_argument("--onnx", nargs="+", default=[], metavar="FILE",
                   help="exported ONNX files (bort export) to time beside the rest, against eager --subject")
    p.add_argument("--out", type=out_dir, default="runs/bench", help="output directory (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.set_defaults(run=run)


def run(args) -> int:
    from bort.inference.bench import run_bench
    from bort.inference.bench_report import fast_path_table, model_table, onnx_file_table, plot, setup_line

    config = BenchConfig(
        models=args.models, subject=args.subject, lengths=args.lengths, batch_size=args.batch_size,
        threads=args.threads, warmup=args.warmup, repeats=args.repeats, min_seconds=args.min_seconds,
        fast_paths=[] if args.fast_paths == ["none"] else args.fast_paths, onnx_files=args.onnx,
    )

    for n in config.lengths:
        config.protocol(n)  # validates batch, repeats, threads before any model is built
    progress = (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    results = run_bench(config, work_dir=args.out, progress=progress)
    write_json_atomic(args.out / "bench.json", results)
    tables = [setup_line(results), model_table(results, markdown=True), fast_path_table(results, markdown=True)]
    if results["onnx_files"]:
        tables.append(onnx_file_table(results, markdown=True))
    report = "\n\n".join(tables)
    write_text_atomic(args.out / "bench.md", report + "\n")
    plot(results, args.out / "bench.png")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(setup_line(results))
        print()
        print(model_table(results))
        if results["fast_paths"]:
            print()
            print(fast_path_table(results))
        if results["onnx_files"]:
            print()
            print(onnx_file_table(results))
        print(f"\nwrote {args.out / 'bench.json'}, bench.md, bench.png")
    return 0
