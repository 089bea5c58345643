"""Where candidates train: in this process, in local worker processes, or on a Ray cluster.

Candidates are independent, so they run in parallel; each worker reads the teacher cache from
disk (memory-mapped) and returns ê. Results come back as they finish, in any order.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from pathlib import Path
from typing import Iterator

from bort.architecture import Arch
from bort.search import teacher_cache
from bort.search.candidate import train_and_score

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
    return arch_list, train_and_score(Arch(*arch_list), config, train, val, **params)


def run_candidates(jobs: list[tuple[Arch, dict]], cache_dir: Path, params: dict, workers: int = 1,
                   ray_address: str | None = None) -> Iterator[tuple[Arch, dict]]:
    """Train every (arch, student config dict) job; yield (arch, result) as each finishes."""
    args = [(arch.as_list(), config, str(cache_dir), params) for arch, config in jobs]
    if ray_address:
        yield from _run_ray(args, workers, ray_address)
    elif workers == 1:
        for a in args:
            arch_list, result = _train_one(*a)
            yield Arch(*arch_list), result
    else:
        context = multiprocessing.get_context("spawn")  # no fork: torch's threads do not survive it
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_train_one, *a) for a in args]
            for future in cf.as_completed(futures):
                arch_list, result = future.result()
                yield Arch(*arch_list), result


def _run_ray(args: list, workers: int, address: str) -> Iterator[tuple[Arch, dict]]:
    import ray

    if not ray.is_initialized():
        if address == "local":
            # A private single-node cluster on loopback, no dashboard.
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1", configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_train_one)
    pending = [remote.remote(*a) for a in args]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        arch_list, result = ray.get(done[0])
        yield Arch(*arch_list), result
