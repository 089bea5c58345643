"""The W-coefficient and the Pareto front over (p, î, ê)."""

from __future__ import annotations

import math


def w_coefficient(p: float, latency: float, error: float, p_teacher: float, latency_teacher: float) -> float:
    """W = (1 − p/p(T)) · (1 − î/î(T)) / ê; larger is better.

    A candidate as big as or bigger than T, or as slow or slower, gets W ≤ 0 (the formula alone
    would make a candidate bigger *and* slower than T positive again). ê = 0 (the teacher's own
    distribution, matched exactly) gives ±inf, not a division by zero. A diverged candidate (ê not
    finite) has no W: the caller marks it instead.
    """
    size, speed = 1.0 - p / p_teacher, 1.0 - latency / latency_teacher
    if error > 0:
        w = size * speed / error
    else:
        w = math.inf if size > 0 and speed > 0 else -math.inf
    if size <= 0 or speed <= 0:
        return -abs(w)
    return w


def pareto_front(points: list[tuple[float, ...]]) -> list[bool]:
    """For each point (all objectives minimised), whether no other point dominates it."""
    flags = []
    for a in points:
        dominated = any(all(bj <= aj for aj, bj in zip(a, b)) and any(bj < aj for aj, bj in zip(a, b)) for b in points)
        flags.append(not dominated)
    return flags
