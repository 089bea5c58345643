"""The user's budget: which candidates fit it, judged on what the search measured, and how those that fit rank.

A user asks "the most accurate student that runs in ≤ 5 ms here", "≥ 4× faster than my model" or "≤ 10M
parameters", not "what maximises W". With a budget, the candidates that fit it are ranked by ê (the most
accurate first); without one, by the paper's W. Parameters are exact; a latency is a measurement with a 95%
interval, so a candidate is judged on the interval: out when the whole interval misses the budget, *straddling*
(ranked, and flagged) when the interval holds the budget's edge, in when the whole interval meets it.
"""

from __future__ import annotations

from dataclasses import dataclass

IN, STRADDLES, OUT = "in", "straddles", "out"


@dataclass(frozen=True)
class Budget:
    """``max_latency`` in the search's latency unit (ms when measured); ``min_speedup``: î(T)/î at least this;
    ``max_params``: the candidate's exact parameter count at most this."""

    max_latency: float | None = None
    min_speedup: float | None = None
    max_params: int | None = None

    @classmethod
    def of(cls, cfg) -> "Budget":
        return cls(cfg.max_latency, cfg.min_speedup, cfg.max_params)

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.max_latency, self.min_speedup, self.max_params))

    def describe(self, unit: str = "ms") -> str:
        parts = []
        if self.max_latency is not None:
            parts.append(f"î ≤ {self.max_latency:g} {unit}")
        if self.min_speedup is not None:
            parts.append(f"≥ {self.min_speedup:g}× faster than the teacher")
        if self.max_params is not None:
            parts.append(f"≤ {self.max_params:,} parameters")
        return ", ".join(parts)

    def verdict(self, record: dict, latency_teacher: float, unit: str = "ms") -> tuple[str, str]:
        """(``in`` / ``straddles`` / ``out``, why) for a candidate record with ``p``, ``latency`` and, when î was
        measured in rounds, ``latency_interval`` [low, high]."""
        if self.max_params is not None and record["p"] > self.max_params:
            return OUT, f"{record['p']:,} parameters > {self.max_params:,}"
        low, high = record.get("latency_interval") or (record["latency"], record["latency"])
        verdicts = []
        if self.max_latency is not None:
            verdicts.append(_judge(high <= self.max_latency, low <= self.max_latency,
                                   f"î {_span(low, high)} {unit} against ≤ {self.max_latency:g} {unit}"))
        if self.min_speedup is not None:
            fast, slow = latency_teacher / low, latency_teacher / high  # the speed-up's interval, from î's
            verdicts.append(_judge(slow >= self.min_speedup, fast >= self.min_speedup,
                                   f"speed-up {_span(slow, fast, '×')} against ≥ {self.min_speedup:g}×"))
        for kind in (OUT, STRADDLES):
            reasons = [why for verdict, why in verdicts if verdict == kind]
            if reasons:
                return kind, "; ".join(reasons)
        return IN, ""


def _judge(whole_interval_fits: bool, some_of_it_fits: bool, why: str) -> tuple[str, str]:
    if whole_interval_fits:
        return IN, why
    return (STRADDLES, why + " (its 95% interval holds the budget's edge)") if some_of_it_fits else (OUT, why)


def _span(low: float, high: float, suffix: str = "") -> str:
    return f"{low:.4g}{suffix}" if low == high else f"[{low:.4g}{suffix}, {high:.4g}{suffix}]"


def fits(verdict: str) -> bool:
    """A straddling candidate may meet the budget: it is ranked, and flagged."""
    return verdict != OUT


def budget_sort_key(record: dict) -> tuple:
    """Within a budget: the lowest ê first (the most accurate student that fits), then the faster, the smaller."""
    return record["error"], record["latency"], record["p"], record["arch"]
