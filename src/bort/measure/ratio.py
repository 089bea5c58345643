"""Latency ratios from interleaved rounds: the median of the per-round ratios, with a bootstrap interval.

On a shared machine a burst of load slows whatever runs during it. When models A and B are timed in
the same round, back to back, a burst slows both and their ratio barely moves; timed one after the
other (all of A, then all of B) the burst lands on one of them and the ratio is off by the burst.
So a ratio is computed per round, and the median over rounds is the estimate; its interval is the
percentile bootstrap of that median (rounds resampled with replacement).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from bort.errors import BortError

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Ratio:
    """``median`` of the per-round ratios A/B, and its ``confidence`` interval [low, high] over ``rounds``."""

    median: float
    low: float
    high: float
    rounds: int
    confidence: float = CONFIDENCE

    @property
    def relative_half_width(self) -> float:
        """Half the interval's width over the median: 0.02 means ±2 %."""
        return (self.high - self.low) / (2 * self.median) if self.median else float("inf")

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def scaled(self, factor: float) -> "Ratio":
        """The same interval times ``factor`` (a ratio to T times T's latency is a latency)."""
        return Ratio(self.median * factor, self.low * factor, self.high * factor, self.rounds, self.confidence)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.median:.3g} [{self.low:.3g}, {self.high:.3g}]"


def _quantile(ordered: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile of an already sorted array."""
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                    seed: int = 0) -> Ratio:
    """The median of ``values`` and the percentile-bootstrap interval of that median (seeded: repeatable)."""
    if not values:
        raise BortError("a ratio needs at least one round")
    if not 0 < confidence < 1:
        raise BortError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    array = np.asarray(values, dtype=np.float64)
    n = len(array)
    rng = np.random.default_rng(seed)
    medians = np.sort(np.median(array[rng.integers(0, n, size=(resamples, n))], axis=1))
    tail = (1 - confidence) / 2
    return Ratio(float(statistics.median(values)), _quantile(medians, tail), _quantile(medians, 1 - tail), n,
                 confidence)


def round_ratio(numerator: Sequence[float], denominator: Sequence[float], **kwargs) -> Ratio:
    """Ratio of two models' latencies, round by round: ``numerator[r] / denominator[r]`` for each round r.

    Both sequences hold one time per round, in round order, from the same interleaved rounds.
    """
    if len(numerator) != len(denominator):
        raise BortError(f"per-round ratio: {len(numerator)} rounds of one model against "
                        f"{len(denominator)} of the other")
    if any(d <= 0 for d in denominator):
        raise BortError("per-round ratio: a time in the denominator is zero or negative")
    return median_interval([a / b for a, b in zip(numerator, denominator)], **kwargs)
