"""What caching the teacher saves in `bort search`, measured in one run.

The same search twice, on the same corpus, space and seeds: once as `bort search` runs it (the
teacher's outputs on the fixed batches computed once and shared by every candidate), once
recomputing the teacher for every candidate (loading it and running it over the fixed batches
each time, as a search without the cache would). Prints the teacher's share of the cached search's
time and the speed-up, and checks that both give the same ranking.

    python bench/search_teacher_cache.py [--teacher-arch 6,8,512,2048] [--space tiny] [--steps 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from pathlib import Path

from bort.architecture import Arch, flops_per_sequence
from bort.architecture.build import build_roberta
from bort.inference.device import device_record
from bort.util.quiet import quiet_libraries
from bort.search.config import SearchConfig
from bort.search.runner import search
from bort.search.spaces import PRESETS

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=[str(REPO / "src" / "bort" / "data" / "corpus")])
    parser.add_argument("--teacher-arch", default="6,8,512,2048")
    parser.add_argument("--space", default="tiny")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--val-batches", type=int, default=4)
    args = parser.parse_args()

    teacher_arch = Arch.parse(args.teacher_arch)
    largest = max(PRESETS[args.space].candidates(), key=lambda a: flops_per_sequence(a, args.seq_len))
    ratio = flops_per_sequence(teacher_arch, args.seq_len) / flops_per_sequence(largest, args.seq_len)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        teacher = build_roberta(teacher_arch, head="mlm", seed=0)
        teacher.config.architectures = ["RobertaForMaskedLM"]
        teacher.save_pretrained(tmp / "teacher")
        common = dict(teacher=str(tmp / "teacher"), corpus=args.corpus, space=args.space, steps=args.steps,
                      seq_len=args.seq_len, val_batches=args.val_batches, latency="flops", cache_dir=str(tmp / "tokens"),
                      lr=0.05, seed=0)
        # Tokenize once up front so that neither timed run pays for it.
        search(SearchConfig(out=str(tmp / "warm"), epsilon=1000, **common), show_progress=False)
        timings, rankings = {}, {}
        for name, recompute in (("cached", False), ("recomputed", True)):
            out = tmp / name
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            summary = search(SearchConfig(out=str(out), **common), show_progress=False, recompute_teacher=recompute)
            timings[name] = {"seconds": time.perf_counter() - start, "teacher_seconds": summary["teacher_seconds"],
                             "candidates": summary["candidates_kept"]}
            with open(out / "ranking.csv") as f:
                rankings[name] = [(r["D"], r["A"], r["H"], r["I"], r["e"]) for r in csv.DictReader(f)]
    result = {
        "setup": {**vars(args), "teacher_flops_over_largest_candidate": ratio, "device": device_record("cpu").describe()},
        "timings": timings,
        "teacher_share_of_cached_search": timings["cached"]["teacher_seconds"] / timings["cached"]["seconds"],
        "speedup": timings["recomputed"]["seconds"] / timings["cached"]["seconds"],
        "same_ranking": rankings["cached"] == rankings["recomputed"],
    }
    print(json.dumps(result, indent=2))
    print(f"{timings['cached']['candidates']} candidates, teacher {ratio:.1f}x the largest candidate's FLOPs: cached "
          f"{timings['cached']['seconds']:.1f} s vs recomputed {timings['recomputed']['seconds']:.1f} s -> "
          f"{result['speedup']:.2f}x; teacher share of the cached search {result['teacher_share_of_cached_search']:.1%}")


if __name__ == "__main__":
    main()
