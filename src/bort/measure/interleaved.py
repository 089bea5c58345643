"""Several models timed in interleaved rounds, so that their ratios survive a noisy machine.

Each round runs every model once, as a short block of back-to-back forward passes (a fast model runs
several passes so that its block lasts about ``block_ms``), in an order rotated every round so that no
model always follows the same one. A model's time in a round is the median of its block. Rounds go
on until every ratio to the reference model is known to ``target_half_width`` (or a cap is reached);
the machine's load is read before and during the timing.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from bort.errors import BortError
from bort.measure.latency import LatencyProtocol, torch_threads
from bort.measure.load import Load, LoadMonitor, idle_check
from bort.measure.ratio import Ratio, median_interval, round_ratio

MAX_RUNS_PER_BLOCK = 200


@dataclass
class Rounds:
    """Per-round times (ms, one per round, in round order) of each model, and the load while they ran."""

    rounds_ms: dict[str, list[float]]
    runs_per_block: dict[str, int]
    seconds: float
    load_before: Load | None = None
    load_during: Load | None = None
    stopped_by: str = ""  # "interval", "max_rounds" or "max_seconds"
    order: list[list[str]] = field(default_factory=list, repr=False)

    @property
    def rounds(self) -> int:
        return len(next(iter(self.rounds_ms.values()), []))

    def latency(self, name: str) -> Ratio:
        """A model's median time per forward pass (ms) over rounds, with its bootstrap interval."""
        return median_interval(self.rounds_ms[name])

    def ratio(self, numerator: str, denominator: str) -> Ratio:
        """``numerator``'s time over ``denominator``'s, round by round: a speed-up when the other way round."""
        return round_ratio(self.rounds_ms[numerator], self.rounds_ms[denominator])

    @property
    def disturbed(self) -> bool:
        return any(load is not None and load.disturbed for load in (self.load_before, self.load_during))

    def load_warning(self) -> str | None:
        """One line when another process took the CPU before or during the timing, else None."""
        parts = [f"{when}: {load.describe()}" for when, load in (("before timing", self.load_before),
                                                                  ("while timing", self.load_during))
                 if load is not None and load.disturbed]
        if not parts:
            return None
        return ("warning: the machine was busy (" + "; ".join(parts) + "). Ratios come from interleaved rounds and "
                "hold up; absolute milliseconds may not.")

    def load_dict(self) -> dict:
        return {"before": self.load_before.as_dict() if self.load_before else None,
                "during": self.load_during.as_dict() if self.load_during else None}


def _time_block(forward: Callable[[], Any], runs: int, sync: Callable[[], None]) -> float:
    """Median ms of ``runs`` back-to-back calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        forward()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _precise_enough(rounds_ms: dict[str, list[float]], reference: str | None, target: float) -> bool:
    if reference is None:
        return all(median_interval(v, resamples=400).relative_half_width <= target for v in rounds_ms.values())
    return all(round_ratio(v, rounds_ms[reference], resamples=400).relative_half_width <= target
               for name, v in rounds_ms.items() if name != reference)


def time_interleaved(forwards: dict[str, Callable[[], Any]], protocol: LatencyProtocol = LatencyProtocol(),
                     reference: str | None = None, on_round: Callable[[int, "Rounds"], None] | None = None) -> Rounds:
    """Time each ``forwards[name]()`` — a closure over a fixed input — in interleaved rounds.

    At least ``protocol.repeats`` rounds; then rounds continue until every ratio to ``reference`` (every
    latency, without one) has a 95% interval within ±``protocol.target_half_width``, or
    ``protocol.max_rounds`` rounds, or ``protocol.max_seconds`` of timing. ``on_round(r, rounds)`` is
    called after each round (a progress bar).
    """
    if not forwards:
        raise BortError("nothing to time")
    if reference is not None and reference not in forwards:
        raise BortError(f"the reference {reference!r} is not among the models timed ({', '.join(forwards)})")
    cuda = protocol.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    names = list(forwards)
    with torch_threads(protocol.threads), torch.inference_mode():
        load_before = idle_check() if protocol.load_check else None
        monitor = LoadMonitor().start() if protocol.load_check else None
        started = time.perf_counter()
        runs: dict[str, int] = {}
        for name in names:  # warm-up, then one timed pass says how many passes fill a block
            for _ in range(protocol.warmup_runs):
                forwards[name]()
            sync()
            single = max(_time_block(forwards[name], 1, sync), 1e-3)
            runs[name] = max(1, min(MAX_RUNS_PER_BLOCK, math.ceil(protocol.block_ms / single)))
        result = Rounds({name: [] for name in names}, runs, 0.0)
        while True:
            r = result.rounds
            shift = r % len(names)
            order = names[shift:] + names[:shift]  # rotated: each model leads once every len(names) rounds
            for name in order:
                result.rounds_ms[name].append(_time_block(forwards[name], runs[name], sync))
            result.order.append(order)
            result.seconds = time.perf_counter() - started
            if on_round is not None:
                on_round(r + 1, result)
            if result.rounds >= protocol.repeats:
                if _precise_enough(result.rounds_ms, reference, protocol.target_half_width):
                    result.stopped_by = "interval"
                elif result.rounds >= protocol.max_rounds:
                    result.stopped_by = "max_rounds"
                elif result.seconds >= protocol.max_seconds:
                    result.stopped_by = "max_seconds"
                if result.stopped_by:
                    break
        result.load_before, result.load_during = load_before, monitor.stop() if monitor else None
    return result
