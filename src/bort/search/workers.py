"""Where candidates train: in this process, in local worker processes, or on a Ray cluster
(:mod:`bort.util.executors`).

Candidates are independent, so they run in parallel; each worker reads the teacher cache from
disk (memory-mapped) and returns ê. Results come back as they finish, in any order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from bort.architecture import Arch
from bort.search import teacher_cache
from bort.search.candidate import train_and_score
from bort.util.executors import run_jobs

_LOADED: dict = {}  # (cache folder, its build time) → its batches: each worker process maps a cache once


def _train_one(arch_list: list[int], config_dict: dict, cache_dir: str, params: dict) -> tuple[list[int], dict]:
    """Worker entry point: everything it needs travels as plain data."""
    from transformers import AutoConfig

    # Keyed by the cache's build time too, so that a cache rebuilt in the same folder is never served stale.
    info = Path(cache_dir) / "info.json"
    key = (cache_dir, info.stat().st_mtime_ns if info.exists() else None)
    if key not in _LOADED:
        _LOADED[key] = teacher_cache.load(Path(cache_dir))
    train, val, _ = _LOADED[key]
    model_type = config_dict["model_type"]
    config = AutoConfig.for_model(model_type, **{k: v for k, v in config_dict.items() if k != "model_type"})
    params = dict(params)
    init = params.pop("init", None)
    state = _extracted_state(Arch(*arch_list), **init) if init else None
    return arch_list, train_and_score(Arch(*arch_list), config, train, val, initial_state=state, **params)


def _extracted_state(arch: Arch, teacher: str, importance: str) -> dict:
    """``arch``'s weights cut out of the teacher by the search's importance scores (each loaded once per worker,
    keyed by the files' modification times so that a rewritten teacher or score file is read again)."""
    import json

    from bort.checkpoint import load_masked_lm
    from bort.extract.extractor import extracted_state
    from bort.extract.importance import Importance

    stamps = tuple(p.stat().st_mtime_ns for p in (Path(teacher) / "model.safetensors", Path(importance)))
    key = ("extract", teacher, importance, stamps)
    if key not in _LOADED:
        _LOADED[key] = (load_masked_lm(teacher), Importance.from_dict(json.loads(Path(importance).read_text())))
    model, scores = _LOADED[key]
    return extracted_state(model, scores, arch)


def run_candidates(jobs: list[tuple[Arch, dict]], cache_dir: Path, params: dict, workers: int = 1,
                   ray_address: str | None = None) -> Iterator[tuple[Arch, dict]]:
    """Train every (arch, student config dict) job; yield (arch, result) as each finishes."""
    args = [(arch.as_list(), config, str(cache_dir), params) for arch, config in jobs]
    for _, (arch_list, result) in run_jobs(_train_one, args, workers, ray_address):
        yield Arch(*arch_list), result
