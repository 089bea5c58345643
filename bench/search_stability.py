"""Is the FPTAS ranking stable on a noisy machine? The latency phase run twice, W ranked twice, compared.

A search's ranking by W = (1 − p/p(T))·(1 − î/î(T))/ê moves between runs only through î, the one
measured quantity. This benchmark scores every candidate of the space once (ê, from `bort search`
with FLOPs as î, so that the training is not repeated), then measures î twice with each protocol:

- interleaved: the search's protocol — T and every candidate in the same rounds, î from per-round
  ratios to T (bort.search.latency_phase.measure_all);
- sequential: the earlier protocol — each model timed alone, median of 5 runs after 1 warm-up.

For each protocol it prints Kendall's τ between the two runs' W rankings (and between their î
rankings alone), and whether the best tuple is the same — or, for the interleaved protocol, whether
run 2's best is tied with run 1's within î's noise (their W intervals overlap: the report flags them).
Goal: τ ≥ 0.9 and the same best tuple.

    python bench/search_stability.py [--teacher DIR] [--space cpu-small] [--threads 2] [--out runs/search-stability]

Without --teacher, a teacher is made once: all-MiniLM-L6-v2 (`make real-model`) given a masked-LM
head by 40 steps of continued MLM (its ê are those of a barely trained head; only î is in question).
"""

from __future__ import annotations

import argparse
import copy
import gc
import time
from pathlib import Path

from bort.architecture import Arch
from bort.architecture.hf_config import student_config
from bort.checkpoint import load_config
from bort.data import CORPUS_DIR
from bort.measure.device import device_record
from bort.measure.latency import LatencyProtocol, model_latency
from bort.search import latency_phase
from bort.search.config import SearchConfig
from bort.search.report import tied_with_best
from bort.search.runner import read_candidates, rescored, search
from bort.search.scoring import w_coefficient
from bort.util.io import write_json_atomic
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
MINILM = REPO / "runs" / "models" / "all-MiniLM-L6-v2"


def make_teacher(out: Path) -> Path:
    from bort.pretrain.config import PretrainConfig
    from bort.pretrain.trainer import pretrain

    if not (out / "final_metrics.json").is_file():
        pretrain(PretrainConfig(mode="mlm", init=str(MINILM), corpus=[str(CORPUS_DIR)], out=str(out), max_steps=40,
                                seq_len=64, batch_size=16, lr=2e-4, warmup_steps=4, eval_every=40, save_every=40,
                                val_batches=2, seed=0, cache_dir=str(out.parent / "cache")))
    return out


def sequential(teacher_config, archs: list[Arch], threads: int, seq_len: int) -> dict[str, float]:
    """The earlier protocol: each model alone, median of 5 timed runs after 1 warm-up."""
    from transformers import AutoModel

    protocol = LatencyProtocol(seq_len=seq_len, threads=threads, warmup_runs=1, repeats=5)
    out = {}
    for arch in [None, *archs]:
        config = teacher_config if arch is None else student_config(teacher_config, arch)
        model = AutoModel.from_config(config, add_pooling_layer=False)
        out[latency_phase.key(arch)] = model_latency(model, protocol).median_ms
        del model
        gc.collect()
    return out


def ranking(candidates: dict[str, dict], latency: dict[str, float], p_teacher: int) -> dict[str, float]:
    return {k: w_coefficient(c["p"], latency[k], c["error"], p_teacher, latency["T"]) for k, c in candidates.items()}


def compare(first: dict[str, float], second: dict[str, float]) -> dict:
    from scipy.stats import kendalltau

    keys = sorted(k for k in first if k != "T")
    tau = kendalltau([first[k] for k in keys], [second[k] for k in keys]).statistic
    return {"tau": float(tau), "best": [max(keys, key=first.get), max(keys, key=second.get)]}


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", help="a masked-LM directory (default: MiniLM with 40 MLM steps, made once)")
    parser.add_argument("--space", default="cpu-small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=128, help="tokens of the timed input")
    parser.add_argument("--out", default=str(REPO / "runs" / "search-stability"))
    args = parser.parse_args()
    out = Path(args.out)
    teacher = Path(args.teacher) if args.teacher else make_teacher(out / "teacher")

    scored = out / "search"
    base = SearchConfig(teacher=str(teacher), corpus=[str(CORPUS_DIR)], out=str(scored), space=args.space, steps=3,
                        lr=0.05, batch_size=8, seq_len=128, latency="flops", latency_seq_len=args.seq_len,
                        latency_threads=args.threads, cache_dir=str(out / "cache"), seed=0)  # a re-run continues it
    summary = search(base)
    candidates = {latency_phase.key(Arch(*c["arch"])): c for c in read_candidates(scored / "candidates.jsonl").values()}
    archs = [Arch(*c["arch"]) for c in candidates.values()]
    teacher_config = load_config(teacher)
    measured = SearchConfig(**{**base.to_dict(), "latency": "measured"})

    results: dict = {"device": device_record("cpu", args.threads).as_dict(), "candidates": len(archs),
                     "space": args.space, "seq_len": args.seq_len, "protocols": {}}
    for protocol in ("interleaved", "sequential"):
        runs = []
        for attempt in (1, 2):
            started = time.perf_counter()
            tied = None
            if protocol == "interleaved":
                log = out / f"latency-{attempt}.jsonl"
                log.unlink(missing_ok=True)
                records = latency_phase.measure_all(measured, teacher_config, archs, log)
                latency = {k: r["value"] for k, r in records.items()}
                rounds = records["T"]["rounds"]
                rescored_records = rescored(copy.deepcopy(candidates), records, summary["p_T"], latency["T"])
                tied = tied_with_best(list(rescored_records.values()))
            else:
                latency, rounds = sequential(teacher_config, archs, args.threads, args.seq_len), None
            runs.append({"latency": latency, "W": ranking(candidates, latency, summary["p_T"]), "rounds": rounds,
                         "tied_with_best": tied, "seconds": time.perf_counter() - started})
            print(f"{protocol} run {attempt}: {runs[-1]['seconds']:.0f} s", flush=True)
        w = compare(runs[0]["W"], runs[1]["W"])
        lat = compare({k: -v for k, v in runs[0]["latency"].items()}, {k: -v for k, v in runs[1]["latency"].items()})
        # the best of run 2 within run 1's noise: run 1's best, or tied with it by the W intervals
        within = runs[0]["tied_with_best"] is not None and w["best"][1] in [w["best"][0], *runs[0]["tied_with_best"]]
        results["protocols"][protocol] = {"tau_W": w["tau"], "best": w["best"],
                                          "same_best": w["best"][0] == w["best"][1],
                                          "best_within_noise": within, "tau_latency": lat["tau"], "runs": runs}
    write_json_atomic(out / "stability.json", results)

    print(f"\n{args.space}: {len(archs)} candidates, î at batch 1 × {args.seq_len} tokens, {args.threads} threads; "
          f"{results['device']['device_name']}\n")
    print("| protocol | Kendall τ of the W rankings | τ of the î rankings | best tuple, run 1 / run 2 | "
          "seconds per run |")
    print("|---|---:|---:|---|---:|")
    for name, r in results["protocols"].items():
        best = " / ".join(f"⟨{b}⟩" for b in r["best"])
        seconds = " / ".join(f"{run['seconds']:.0f}" for run in r["runs"])
        note = " (same)" if r["same_best"] else \
            " (tied in run 1: W intervals overlap)" if r["best_within_noise"] else ""
        print(f"| {name} | {r['tau_W']:.3f} | {r['tau_latency']:.3f} | {best}{note} | {seconds} |")
    print(f"\nwrote {out / 'stability.json'}")


if __name__ == "__main__":
    main()
