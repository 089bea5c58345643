"""What caching the teacher saves in `bort search`, measured in one run.

The same search twice, on the same corpus, space and seeds: once as `bort search` runs it (the
teacher's outputs on the fixed batches computed once and shared by every candidate), once
recomputing the teacher for every candidate (loading it and running it over the fixed batches
each time, as a search without the cache would). Prints the teacher's share of the cached search's
time and the speed-up, and checks that both give every candidate the same ê.

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
from bort.architecture.hf_config import student_config, vocab_of
from bort.checkpoint import load_config
from bort.measure.device import device_record
from bort.search import teacher_cache
from bort.search.candidate import train_and_score
from bort.search.config import SearchConfig
from bort.search.runner import candidate_params, kept_candidates, prepare_teacher_cache, search
from bort.search.spaces import PRESETS, load_space
from bort.util.quiet import quiet_libraries

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
                      seq_len=args.seq_len, val_batches=args.val_batches, latency="flops",
                      cache_dir=str(tmp / "tokens"), lr=0.05, seed=0)
        # Tokenize once up front so that neither timed run pays for it.
        search(SearchConfig(out=str(tmp / "warm"), epsilon=1000, **common), show_progress=False)

        start = time.perf_counter()
        summary = search(SearchConfig(out=str(tmp / "cached"), **common), show_progress=False)
        timings = {"cached": {"seconds": time.perf_counter() - start, "teacher_seconds": summary["teacher_seconds"],
                              "candidates": summary["candidates_kept"]}}
        with open(tmp / "cached" / "ranking.csv") as f:
            cached = {(r["D"], r["A"], r["H"], r["I"]): float(r["error"]) for r in csv.DictReader(f)}

        # The same candidates, each waiting for the teacher to be loaded and run over the fixed batches again.
        cfg = SearchConfig(out=str(tmp / "recomputed"), **common)
        teacher_config = load_config(cfg.teacher)
        params = candidate_params(cfg, tmp / "recomputed")
        recomputed, teacher_seconds = {}, 0.0
        start = time.perf_counter()
        for arch in kept_candidates(load_space(cfg.space, vocab_of(teacher_config)), cfg.epsilon):
            cache = tmp / "recomputed" / "teacher_cache"
            shutil.rmtree(cache, ignore_errors=True)
            teacher_seconds += prepare_teacher_cache(cfg, Path(cfg.out), teacher_config, cache)["teacher_seconds"]
            train, val, _ = teacher_cache.load(cache)
            result = train_and_score(arch, student_config(teacher_config, arch), train, val, **params)
            recomputed[tuple(map(str, arch.as_list()))] = result["e_hat"]
        timings["recomputed"] = {"seconds": time.perf_counter() - start, "teacher_seconds": teacher_seconds,
                                 "candidates": len(recomputed)}
        same = recomputed.keys() == cached.keys() and all(abs(recomputed[k] - cached[k]) <= 1e-9 * abs(cached[k])
                                                          for k in cached)
    result = {
        "setup": {**vars(args), "teacher_flops_over_largest_candidate": ratio,
                  "device": device_record("cpu").describe()},
        "timings": timings,
        "teacher_share_of_cached_search": timings["cached"]["teacher_seconds"] / timings["cached"]["seconds"],
        "speedup": timings["recomputed"]["seconds"] / timings["cached"]["seconds"],
        "same_errors": same,
    }
    print(json.dumps(result, indent=2))
    print(f"{timings['cached']['candidates']} candidates, teacher {ratio:.1f}x the largest candidate's FLOPs: cached "
          f"{timings['cached']['seconds']:.1f} s vs recomputed {timings['recomputed']['seconds']:.1f} s -> "
          f"{result['speedup']:.2f}x; teacher share of the cached search "
          f"{result['teacher_share_of_cached_search']:.1%}")


if __name__ == "__main__":
    main()
