"""Which path to ship: the fastest that stays faithful to eager fp32, and the simpler one when it is a tie.

Pure logic on measured figures, so that it can be tested on planted numbers: every candidate comes with
its per-round times (ms, from the same interleaved rounds as every other candidate), its parity with
eager (cosine of the outputs) and, where a task was scored, the points it lost against eager.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bort.measure.ratio import round_ratio

MAX_POINTS_LOST = 0.5  # task score a path may lose against eager fp32, in points (percent)


@dataclass
class Candidate:
    name: str
    rounds_ms: list[float]  # its time in each interleaved round; empty when it was not run
    cosine: float | None = None  # parity of its outputs with eager fp32's
    points: float | None = None  # its task score, in points; None when no task was scored
    points_lost: float | None = None  # eager's task score minus its own
    skipped: str | None = None  # why it was not run on this CPU

    def refusal(self, min_cosine: float, max_points_lost: float = MAX_POINTS_LOST) -> str | None:
        """Why this candidate may not be chosen, or None when it may."""
        if self.skipped:
            return self.skipped
        if self.cosine is None:
            return "parity: not measured"
        if not self.cosine >= min_cosine:  # written so that a nan cosine (outputs with nan or inf) is refused
            return f"parity: cosine {self.cosine:.6f} < {min_cosine}"
        if self.points_lost is not None and not self.points_lost <= max_points_lost:
            return f"task score: {self.points_lost:.2f} points below eager (at most {max_points_lost})"
        return None


@dataclass(frozen=True)
class Choice:
    name: str
    fastest: str  # the fastest eligible candidate (the choice, unless a simpler one tied with it)
    reason: str  # one sentence saying why


def choose(candidates: list[Candidate], min_cosine: float, max_points_lost: float = MAX_POINTS_LOST) -> Choice:
    """The fastest eligible candidate (lowest median time per forward pass), unless a simpler eligible one —
    earlier in ``candidates``, which are listed simplest first — is not measurably slower: its per-round time
    ratio to the fastest has a 95% interval that contains 1. A candidate that fails parity or loses too many
    task points is never chosen, however fast."""
    eligible = [c for c in candidates if c.refusal(min_cosine, max_points_lost) is None]
    if not eligible:
        raise ValueError("no candidate meets the bar; eager fp32 should always be one")
    median = {c.name: statistics.median(c.rounds_ms) for c in eligible}
    fastest = min(eligible, key=lambda c: median[c.name])
    for candidate in eligible:  # simplest first
        if candidate is fastest:
            return Choice(fastest.name, fastest.name, "the fastest candidate that meets the bar")
        ratio = round_ratio(candidate.rounds_ms, fastest.rounds_ms)
        if ratio.contains(1.0):
            return Choice(candidate.name, fastest.name,
                          f"ties with the fastest, {fastest.name} (time ratio {ratio}, interval contains 1), "
                          "and is simpler")
    raise AssertionError("unreachable: the fastest candidate is eligible")
