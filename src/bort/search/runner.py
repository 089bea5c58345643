"""``bort search`` end to end: latency, the teacher cache, candidates in parallel, the ranking.

Every finished candidate is appended to ``candidates.jsonl`` (flushed and fsync'd) as it
completes; re-running the same search skips what is finished, a search whose configuration changed is refused,
and ``--restart`` starts over.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from bort.architecture import Arch, count_params
from bort.architecture.hf_config import arch_of, student_config, usable_positions, vocab_of
from bort.checkpoint import (check_weights, has_classification_head, load_classifier, load_config, load_masked_lm,
                             require_masked_lm)
from bort.errors import BortError
from bort.mlm.corpus import resolve_corpus
from bort.mlm.dataset import TOKEN_CACHE, build_splits
from bort.search import latency_phase, task_surrogate, teacher_cache
from bort.search.budget import Budget, fits
from bort.search.config import SearchConfig
from bort.search.report import tied_pairs, tied_with_best, write_reports
from bort.search.scoring import w_coefficient
from bort.search.spaces import load_space
from bort.search.workers import run_candidates
from bort.tokenizer import tokenizer_for_model
from bort.util.io import append_log, read_log, write_json_atomic
from bort.util.run_dir import Resume, RunDirectory, check_output_dir

TEACHER_CACHE = "teacher_cache"
CONFIG_FILE = "search_config.json"
LATENCY_LOG = "latency.jsonl"
CANDIDATES = "candidates.jsonl"
IMPORTANCE = "importance.json"
CALIBRATION_BATCHES = 4  # --init extract: batches of --batch-size sequences the teacher's units are scored on


def kept_candidates(space, epsilon: int) -> list[Arch]:
    """The FPTAS's schedule: the valid tuples sorted by parameter count, every ε-th kept."""
    return space.candidates()[::epsilon]


def read_candidates(path: Path) -> dict[str, dict]:
    """Finished candidates by key; a last line cut short by a kill is ignored (that candidate reruns)."""
    return {latency_phase.key(Arch(*r["arch"])): r for r in read_log(path)}


def corpus_splits(cfg: SearchConfig, out: Path, tokenizer):
    """The corpus tokenized (cached), split by document and packed: (train, held-out)."""
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / TOKEN_CACHE
    train, val = build_splits(resolve_corpus(cfg.corpus, cfg.text_field), tokenizer, cfg.seq_len, cache_dir,
                              seed=cfg.seed)
    if len(train) < cfg.batch_size or len(val) == 0:
        raise BortError(f"the corpus is too small: {len(train)} training and {len(val)} held-out sequences of "
                        f"{cfg.seq_len} tokens, for batches of {cfg.batch_size}")
    return train, val


def check_teacher(cfg: SearchConfig):
    """T's config, refused unless it is a masked LM whose weights load, whose tokenizer matches it, and whose
    positions hold --seq-len and --latency-seq-len tokens. Returns (config, tokenizer)."""
    teacher_config = load_config(cfg.teacher)
    if cfg.task:  # the teacher fine-tuned on the task: its classifier (or regressor) is what the candidates keep
        if not has_classification_head(teacher_config):
            raise BortError(f"--teacher {cfg.teacher} has no classification head: --task needs the teacher fine-tuned "
                            f"on {cfg.task} (bort finetune)")
    else:
        require_masked_lm(cfg.teacher, teacher_config)
    check_weights(cfg.teacher)
    tokenizer = tokenizer_for_model(cfg.teacher)
    if len(tokenizer) != teacher_config.vocab_size:
        raise BortError(f"the teacher's vocabulary ({teacher_config.vocab_size}) differs from its tokenizer's "
                        f"({len(tokenizer)})")
    usable = usable_positions(teacher_config)
    for flag, length in (("--seq-len", cfg.seq_len), ("--latency-seq-len", cfg.latency_seq_len)):
        if length > usable:
            raise BortError(f"{flag} {length} exceeds the teacher's {usable} usable positions")
    return teacher_config, tokenizer


def prepare_teacher_cache(cfg: SearchConfig, out: Path, teacher_config, cache_dir: Path | None = None,
                          splits=None) -> dict:
    """Build the fixed batches and run the teacher over them once (:mod:`bort.search.teacher_cache`);
    an existing cache is reused. Returns the cache's description (batch counts, the teacher's time)."""
    cache_dir = cache_dir or out / TEACHER_CACHE
    if (cache_dir / "info.json").is_file():
        return json.loads((cache_dir / "info.json").read_text())
    tokenizer = tokenizer_for_model(cfg.teacher)
    train, val = splits or corpus_splits(cfg, out, tokenizer)
    n_train = min(cfg.steps, max(1, len(train) // cfg.batch_size))  # s steps cycle over at most s distinct batches
    n_val = min(cfg.val_batches, -(-len(val) // cfg.batch_size))
    args = dict(batch_size=cfg.batch_size, tokenizer=tokenizer, mask_prob=cfg.mask_prob,
                all_positions=cfg.all_positions)
    train_batches = teacher_cache.fixed_batches(train, n_train, seed=cfg.seed, shuffle=True, **args)
    val_batches = teacher_cache.fixed_batches(val, n_val, seed=cfg.seed + 1, shuffle=False, **args)
    return teacher_cache.build(cache_dir, load_masked_lm(cfg.teacher), train_batches, val_batches)


def rescored(records: dict[str, dict], latencies: dict[str, dict], p_teacher: int,
             latency_teacher: float) -> dict[str, dict]:
    """Each candidate's î and W from the latencies of this run: after --latency-remeasure the ones saved in
    candidates.jsonl were measured elsewhere. A diverged candidate (ê not finite) keeps no W."""
    for name, record in records.items():
        record["latency"] = latencies[name]["value"]
        # The 95% interval of î where it was measured in rounds (not for FLOPs, nor an older search's log).
        record["latency_interval"] = [latencies[name][k] for k in ("low", "high")] if "low" in latencies[name] else None
        record["W"] = candidate_w(record, p_teacher, latency_teacher)
        # W falls as î rises: its interval from î's, for the candidates tied with the best
        record["W_interval"] = None if record["W"] is None or record["latency_interval"] is None else [
            candidate_w({**record, "latency": record["latency_interval"][i]}, p_teacher, latency_teacher)
            for i in (1, 0)]
    return records


def candidate_w(record: dict, p_teacher: int, latency_teacher: float) -> float | None:
    """W of a candidate record (p, latency, error); None for a diverged one (ê NaN or inf), which is never ranked."""
    if not math.isfinite(record["error"]):
        return None
    return w_coefficient(record["p"], record["latency"], record["error"], p_teacher, latency_teacher)


def candidate_params(cfg: SearchConfig, out: Path) -> dict:
    """The training settings every candidate shares (the FPTAS's θ), and where extracted starts come from."""
    init = {"teacher": str(Path(cfg.teacher).resolve()), "importance": str((out / IMPORTANCE).resolve())} \
        if cfg.init == "extract" else None
    return dict(steps=cfg.steps, lr=cfg.lr, clip=cfg.clip, warmup_steps=cfg.warmup_steps, temperature=cfg.temperature,
                seed=cfg.seed, threads=cfg.threads_per_worker, init=init)


def prepare_importance(cfg: SearchConfig, out: Path, train_split) -> None:
    """--init extract: the teacher's units scored once on calibration batches of the training split
    (``importance.json``, reused when the search continues); each candidate's start is cut from the teacher by
    them."""
    from bort.extract.extractor import calibration_sample
    from bort.extract.importance import measure_importance

    path = out / IMPORTANCE
    if cfg.init != "extract" or path.is_file():
        return
    batches = calibration_sample(train_split, min(CALIBRATION_BATCHES, len(train_split) // cfg.batch_size),
                                 cfg.batch_size, cfg.seed)
    write_json_atomic(path, measure_importance(load_masked_lm(cfg.teacher), batches).to_dict())


def task_candidates(cfg: SearchConfig, out: Path, todo: list[Arch]):
    """--task: each candidate cut out of the fine-tuned teacher and distilled on the task's cached batches, in this
    process; yields (arch, result) as each finishes."""
    from bort.extract.importance import Importance

    cache = task_surrogate.load(out)
    teacher = load_classifier(cfg.teacher)
    importance = Importance.from_dict(json.loads((out / task_surrogate.TASK_IMPORTANCE).read_text()))
    for arch in todo:
        yield arch, task_surrogate.train_and_score(arch, teacher, importance, cache, cfg.steps, cfg.lr, cfg.clip,
                                                   cfg.warmup_steps, cfg.temperature, cfg.seed)


def check_params_budget(budget: Budget, kept: list[Arch], vocab) -> None:
    """--max-params below every candidate: refused before anything is measured (parameter counts are exact)."""
    if budget.max_params is None:
        return
    smallest = min(kept, key=lambda a: count_params(a, vocab).total)
    if count_params(smallest, vocab).total > budget.max_params:
        raise BortError(f"--max-params {budget.max_params:,}: no candidate of the space fits; the smallest, "
                        f"{smallest}, has {count_params(smallest, vocab).total:,} parameters")


def budget_verdicts(budget: Budget, kept: list[Arch], vocab, latencies: dict, unit: str) -> dict[str, tuple]:
    """Each kept candidate's (verdict, why) against the budget, from its exact size and its measured î; refused in
    one line when none fits, naming the fastest candidate (the search's latencies stay, for a looser budget)."""
    teacher = latencies["T"]["value"]
    verdicts = {}
    for arch in kept:
        name = latency_phase.key(arch)
        record = {"p": count_params(arch, vocab).total, "latency": latencies[name]["value"],
                  "latency_interval": [latencies[name][k] for k in ("low", "high")] if "low" in latencies[name]
                  else None}
        verdicts[name] = budget.verdict(record, teacher, unit)
    if budget.given and not any(fits(v) for v, _ in verdicts.values()):
        fastest = min(kept, key=lambda a: latencies[latency_phase.key(a)]["value"])
        value = latencies[latency_phase.key(fastest)]["value"]
        raise BortError(f"no candidate fits the budget ({budget.describe(unit)}): the fastest, {fastest}, has î "
                        f"{value:.4g} {unit}, {teacher / value:.2f}× faster than the teacher, and "
                        f"{count_params(fastest, vocab).total:,} parameters; loosen the budget (the latencies are "
                        "kept: a re-run measures nothing again)")
    return verdicts


def budget_summary(budget: Budget, verdicts: dict[str, tuple], unit: str) -> dict | None:
    """The budget as search_summary.json records it: what it asked and what it left out, and why."""
    if not budget.given:
        return None
    return {"max_latency": budget.max_latency, "min_speedup": budget.min_speedup, "max_params": budget.max_params,
            "description": budget.describe(unit),
            "verdicts": {name: {"verdict": v, "why": why} for name, (v, why) in verdicts.items()}}


def search(cfg: SearchConfig, show_progress: bool = True) -> dict:
    """Run the search, or continue the one in ``cfg.out`` (the same configuration); returns its summary."""
    from tqdm.auto import tqdm

    def progress(message: str) -> None:
        if show_progress:
            print(f"[search] {message}", flush=True)

    # Setup, before anything is written: the output location, the teacher T, the space, the corpus.
    started = time.perf_counter()
    out = Path(cfg.out)
    run_dir = RunDirectory(out, config_file=CONFIG_FILE)
    teacher_config, tokenizer = check_teacher(cfg)
    vocab = vocab_of(teacher_config)
    space = load_space(cfg.space, vocab)
    candidates = space.candidates()
    kept = kept_candidates(space, cfg.epsilon)
    if cfg.init == "extract" or cfg.task:  # every kept candidate must fit inside T to be cut out of it
        from bort.extract.selection import check_fits

        for arch in kept:
            check_fits(arch, arch_of(teacher_config), f"the teacher {cfg.teacher} "
                                                      f"({'--task' if cfg.task else '--init extract'})")
    if cfg.task:
        task_surrogate.check(cfg, teacher_config)
    budget = Budget.of(cfg)
    check_params_budget(budget, kept, vocab)
    run_dir.check({"--teacher": cfg.teacher})
    if cfg.cache_dir:
        check_output_dir(cfg.cache_dir, "--cache-dir")
    if cfg.latency == "measured" and cfg.latency_device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise BortError("--latency-device cuda: no CUDA device is visible here; use --latency-device cpu")
    try:  # the lock is released however the search ends
        # The run directory, held by this search alone (--restart deletes the earlier one, now that the inputs are
        # valid); a changed configuration is refused once a candidate finished; what a failed setup wrote is removed.
        with run_dir.open(cfg, restart=cfg.restart, progress=lambda: bool(read_log(out / CANDIDATES))) as state:
            if state is Resume.AFRESH:  # e.g. it failed in its latency or teacher phase: the rerun starts afresh
                # What the unfinished search measured may not hold for this configuration: measure it again.
                for stale in (out / LATENCY_LOG, out / TEACHER_CACHE, out / IMPORTANCE,
                              out / task_surrogate.TASK_CACHE, out / task_surrogate.TASK_IMPORTANCE):
                    shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
            elif state is Resume.CONTINUING:
                progress(f"continuing the search in {out}: its finished candidates and latencies are kept")
            splits = None if cfg.task else corpus_splits(cfg, out, tokenizer)
            latency_log = latency_phase.check_device(cfg, out / LATENCY_LOG)
        progress(f"{len(candidates)} valid architectures in the space, {len(kept)} kept (ε = {cfg.epsilon})")
        # Phase 1: î of T and of every kept candidate, serially, before any training.
        t0 = time.perf_counter()
        with tqdm(desc="latency: T and candidates in interleaved rounds", unit="round", dynamic_ncols=True,
                  disable=not show_progress or cfg.latency == "flops") as bar:  # FLOPs take no time
            def on_round(group: int, groups: int, r: int) -> None:
                bar.update(1)
                bar.set_postfix(group=f"{group + 1}/{groups}", round=r)

            latencies = latency_phase.measure_all(cfg, teacher_config, kept, latency_log, on_round)
        latency_seconds = time.perf_counter() - t0
        # The budget, judged as soon as the latencies are known: an empty one is refused before the teacher's pass.
        unit = "ms" if cfg.latency == "measured" else "FLOPs"
        verdicts = budget_verdicts(budget, kept, vocab, latencies, unit)
        if budget.given:
            n_fit = sum(fits(v) for v, _ in verdicts.values())
            progress(f"budget {budget.describe(unit)}: {n_fit} of {len(kept)} candidates fit it (ranked by ê)")

        # Phase 2: the teacher over the fixed batches, once.
        progress("the teacher over the fixed batches (once, cached for every candidate)")
        if cfg.task:  # the task's batches, the fine-tuned teacher's outputs and its units scored on the task
            info = {"teacher_seconds": task_surrogate.build(cfg, out, teacher_config, tokenizer)["seconds"]}
        else:
            info = prepare_teacher_cache(cfg, out, teacher_config, splits=splits)
        if cfg.init == "extract" and not cfg.task:
            progress("the teacher's heads, neurons, channels and layers scored once (--init extract)")
            prepare_importance(cfg, out, splits[0])
        p_teacher = count_params(arch_of(teacher_config), vocab).total
        latency_teacher = latencies["T"]["value"]

        # Phase 3: s SGD steps per candidate (those that fit the budget), in parallel; each finished one is saved.
        finished = read_candidates(out / CANDIDATES)
        todo = [a for a in kept if latency_phase.key(a) not in finished and fits(verdicts[latency_phase.key(a)][0])]
        jobs = [(a, student_config(teacher_config, a).to_dict()) for a in todo]
        t0 = time.perf_counter()
        to_score = [a for a in kept if fits(verdicts[latency_phase.key(a)][0]) or latency_phase.key(a) in finished]
        with tqdm(total=len(to_score), initial=len(to_score) - len(todo), desc="candidates", unit="arch",
                  disable=not show_progress, dynamic_ncols=True) as pbar:
            trained = task_candidates(cfg, out, todo) if cfg.task else \
                run_candidates(jobs, out / TEACHER_CACHE, candidate_params(cfg, out), cfg.workers, cfg.ray)
            for arch, result in trained:
                p = count_params(arch, vocab).total
                latency = latencies[latency_phase.key(arch)]["value"]
                error = result["e_hat"]
                # A diverged candidate (ê NaN or inf) gets no W: it is listed, never ranked.
                record = {"arch": arch.as_list(), "p": p, "latency": latency, "error": error,
                          "train_losses": result["train_losses"], "train_seconds": result["train_seconds"]}
                record["W"] = candidate_w(record, p_teacher, latency_teacher)
                append_log(out / CANDIDATES, record)
                pbar.update(1)
                pbar.set_postfix(last=str(arch), W="diverged" if record["W"] is None else f"{record['W']:.3g}")
        training_seconds = time.perf_counter() - t0

        # Finish: the ranking, the Pareto front, the best architecture's config, the report.
        summary = {
            "candidates_in_space": len(candidates), "candidates_kept": len(kept), "trained_this_run": len(todo),
            "p_T": p_teacher, "latency_T": latency_teacher,
            "latency_unit": unit, "budget": budget_summary(budget, verdicts, unit),
            "latency_seconds": latency_seconds, "teacher_seconds": info["teacher_seconds"],
            "training_seconds": training_seconds, "total_seconds": time.perf_counter() - started,
            "device": latencies["T"].get("device"),
            "latency_T_interval": [latencies["T"][k] for k in ("low", "high")] if "low" in latencies["T"] else None,
            "latency_rounds": latencies["T"].get("rounds"),
        }
        records = rescored(read_candidates(out / CANDIDATES), latencies, p_teacher, latency_teacher)
        summary["latency_intervals"] = {k: [v["low"], v["high"]] for k, v in latencies.items() if "low" in v}
        summary["latency_indistinguishable"] = tied_pairs(list(records.values()))
        # (W's ties: within a budget the pick is the lowest ê, which W's intervals say nothing about)
        summary["tied_with_best"] = [] if budget.given else tied_with_best(list(records.values()))
        summary["best"] = write_reports(cfg, out, records, teacher_config, summary)
        write_json_atomic(out / "search_summary.json", summary)
        return {**summary, "candidates": list(records.values())}  # for the Python API; the files hold them too
    finally:
        run_dir.release()
