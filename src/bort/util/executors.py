"""Where independent jobs run: in this process, in local worker processes, or on a Ray cluster.

Used by the search (one job per candidate architecture) and by Agora (one job per hyperparameter
set). A job is a module-level function and its arguments, all plain picklable data; results come
back as they finish, in any order, each with the index of the job that produced it.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from typing import Callable, Iterator, Sequence


def run_jobs(function: Callable, jobs: Sequence[tuple], workers: int = 1,
             ray_address: str | None = None) -> Iterator[tuple[int, object]]:
    """``function(*job)`` for every job; yields (job index, result) as each finishes."""
    if ray_address:
        yield from _run_ray(function, jobs, workers, ray_address)
    elif workers == 1 or len(jobs) <= 1:
        for index, job in enumerate(jobs):
            yield index, function(*job)
    else:
        context = multiprocessing.get_context("spawn")  # no fork: torch's threads do not survive it
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(function, *job): index for index, job in enumerate(jobs)}
            for future in cf.as_completed(futures):
                yield futures[future], future.result()


def _run_ray(function: Callable, jobs: Sequence[tuple], workers: int, address: str) -> Iterator[tuple[int, object]]:
    import ray

    if not ray.is_initialized():
        if address == "local":
            # A private single-node cluster on loopback, no dashboard.
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1", configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(function)
    pending = {remote.remote(*job): index for index, job in enumerate(jobs)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        yield pending.pop(done[0]), ray.get(done[0])
