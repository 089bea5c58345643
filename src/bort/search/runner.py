"""``bort search`` end to end: latency, the teacher cache, candidates in parallel, the ranking.

Every finished candidate is appended to ``candidates.jsonl`` (flushed and fsync'd) as it
completes; running again into the same directory skips what is finished, and refuses a search
whose configuration changed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bort.architecture import Arch, count_params
from bort.architecture.hf_config import arch_of, load_teacher_config, student_config, vocab_of
from bort.errors import BortError
from bort.search import latency_phase, teacher_cache
from bort.search.config import SearchConfig
from bort.search.scoring import w_coefficient
from bort.search.spaces import load_space
from bort.search.workers import run_candidates
from bort.util.io import append_jsonl, read_jsonl, write_json_atomic


def kept_candidates(space, epsilon: int) -> list[Arch]:
    """The FPTAS's schedule: the valid tuples sorted by parameter count, every ε-th kept."""
    return space.candidates()[::epsilon]


def check_masked_lm(teacher_dir: str, config) -> None:
    names = config.architectures or []
    if not any(n.endswith("ForMaskedLM") for n in names):
        raise BortError(f"teacher {teacher_dir} is not a masked LM (config.json architectures: {names or 'none'}); "
                        "the search needs the teacher's MLM distribution")


def _check_or_save_config(cfg: SearchConfig, out: Path) -> None:
    path = out / "search_config.json"
    if path.is_file():
        saved = SearchConfig.from_dict(json.loads(path.read_text()))
        changed = saved.differences(cfg)
        if changed:
            raise BortError(f"{out} holds a search with a different configuration ({', '.join(changed)} changed); "
                            "choose another --out, or run with the original settings to resume it")
    write_json_atomic(path, cfg.to_dict())


def read_candidates(path: Path) -> dict[str, dict]:
    """Finished candidates by key; a last line cut short by a kill is ignored (that candidate reruns)."""
    return {latency_phase.key(Arch(*r["arch"])): r for r in read_jsonl(path)}


def _prepare_teacher_cache(cfg: SearchConfig, out: Path, teacher_config, progress) -> dict:
    """Build (once) and describe the teacher cache; later runs reuse it."""
    cache_dir = out / "teacher_cache"
    if (cache_dir / "info.json").is_file():
        return json.loads((cache_dir / "info.json").read_text())
    from bort.pretrain.corpus import resolve_corpus
    from bort.pretrain.dataset import build_splits
    from bort.pretrain.setup import load_teacher
    from bort.tokenizer import tokenizer_for_model

    tokenizer = tokenizer_for_model(cfg.teacher)
    if len(tokenizer) != teacher_config.vocab_size:
        raise BortError(f"the teacher's vocabulary ({teacher_config.vocab_size}) differs from its tokenizer's ({len(tokenizer)})")
    files = resolve_corpus(cfg.corpus)
    train, val = build_splits(files, tokenizer, cfg.seq_len, Path(cfg.cache_dir) if cfg.cache_dir else out / "token_cache",
                              seed=cfg.seed)
    if len(train) < cfg.batch_size or len(val) == 0:
        raise BortError(f"the corpus is too small: {len(train)} training and {len(val)} held-out sequences of "
                        f"{cfg.seq_len} tokens, for batches of {cfg.batch_size}")
    progress("running the teacher once over the fixed batches")
    n_train = min(cfg.steps, max(1, len(train) // cfg.batch_size))  # s steps cycle over at most s distinct batches
    n_val = min(cfg.val_batches, -(-len(val) // cfg.batch_size))
    args = dict(batch_size=cfg.batch_size, tokenizer=tokenizer, mask_prob=cfg.mask_prob, all_positions=cfg.all_positions)
    train_batches = teacher_cache.fixed_batches(train, n_train, seed=cfg.seed, shuffle=True, **args)
    val_batches = teacher_cache.fixed_batches(val, n_val, seed=cfg.seed + 1, shuffle=False, **args)
    return teacher_cache.build(cache_dir, load_teacher(cfg.teacher), train_batches, val_batches)


def _recomputing_teacher(cfg, out: Path, teacher_config, jobs, params: dict, recomputed: dict):
    """For the benchmark only: every candidate waits for the teacher to be loaded and run again over
    the fixed batches, as a search without the cache would; ``recomputed`` sums the teacher's time."""
    import shutil

    from bort.search import workers

    for job in jobs:
        shutil.rmtree(out / "teacher_cache", ignore_errors=True)
        workers.forget_cache()
        info = _prepare_teacher_cache(cfg, out, teacher_config, lambda message: None)
        recomputed["teacher_seconds"] += info["teacher_seconds"]
        yield from run_candidates([job], out / "teacher_cache", params, 1, None)


def search(cfg: SearchConfig, show_progress: bool = True, recompute_teacher: bool = False) -> dict:
    """Run or resume the search; returns a summary. ``recompute_teacher`` (for the benchmark only)
    rebuilds the teacher cache before every candidate, as a search without the cache would."""
    from tqdm.auto import tqdm

    def progress(message: str) -> None:
        if show_progress:
            print(f"[search] {message}", flush=True)

    started = time.perf_counter()
    from bort.checkpoint import check_model_dir

    check_model_dir(cfg.teacher)
    teacher_config = load_teacher_config(cfg.teacher)
    check_masked_lm(cfg.teacher, teacher_config)
    space = load_space(cfg.space, vocab_of(teacher_config))
    candidates = space.candidates()
    kept = kept_candidates(space, cfg.epsilon)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_or_save_config(cfg, out)
    progress(f"{len(candidates)} valid architectures in the space, {len(kept)} kept (ε = {cfg.epsilon})")

    t0 = time.perf_counter()
    bar = (lambda items: tqdm(items, desc="latency", unit="model", disable=not show_progress))
    latencies = latency_phase.measure_all(cfg, teacher_config, kept, out / "latency.jsonl", bar)
    latency_seconds = time.perf_counter() - t0

    info = _prepare_teacher_cache(cfg, out, teacher_config, progress)
    vocab = vocab_of(teacher_config)
    p_max = count_params(arch_of(teacher_config), vocab).total
    i_max = latencies["T"]["value"]

    finished = read_candidates(out / "candidates.jsonl")
    todo = [a for a in kept if latency_phase.key(a) not in finished]
    params = dict(steps=cfg.steps, lr=cfg.lr, clip=cfg.clip, warmup=cfg.warmup, temperature=cfg.temperature,
                  seed=cfg.seed, threads=cfg.threads_per_worker)
    jobs = [(a, student_config(teacher_config, a).to_dict()) for a in todo]
    t0 = time.perf_counter()
    recomputed = {"teacher_seconds": 0.0}
    with tqdm(total=len(kept), initial=len(kept) - len(todo), desc="candidates", unit="arch",
              disable=not show_progress, dynamic_ncols=True) as pbar:
        if recompute_teacher:
            iterator = _recomputing_teacher(cfg, out, teacher_config, jobs, params, recomputed)
        else:
            iterator = run_candidates(jobs, out / "teacher_cache", params, cfg.workers, cfg.ray)
        for arch, result in iterator:
            p = count_params(arch, vocab).total
            i = latencies[latency_phase.key(arch)]["value"]
            record = {"arch": arch.as_list(), "p": p, "i": i, "e": result["e_hat"],
                      "W": w_coefficient(p, i, result["e_hat"], p_max, i_max),
                      "train_losses": result["train_losses"], "train_seconds": result["train_seconds"]}
            append_jsonl(out / "candidates.jsonl", record)
            pbar.update(1)
            pbar.set_postfix(last=str(arch), W=f"{record['W']:.3g}")
    training_seconds = time.perf_counter() - t0

    from bort.search.report import write_reports

    summary = {
        "candidates_in_space": len(candidates), "candidates_kept": len(kept), "trained_this_run": len(todo),
        "p_T": p_max, "i_T": i_max, "latency_unit": "ms" if cfg.latency == "measured" else "FLOPs",
        "latency_seconds": latency_seconds, "teacher_seconds": info["teacher_seconds"] + recomputed["teacher_seconds"],
        "training_seconds": training_seconds, "total_seconds": time.perf_counter() - started,
        "device": latencies["T"].get("device"),
    }
    best = write_reports(cfg, out, read_candidates(out / "candidates.jsonl"), teacher_config, summary)
    summary["best"] = best
    write_json_atomic(out / "search_summary.json", summary)
    return summary
