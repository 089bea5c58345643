"""A paired comparison of two methods scored on the same held-out examples, over several seeds.

Each seed is one run of both methods (the seed changes the E/H split and the training order, so every
seed has its own H). The interval resamples both sources of noise, hierarchically: a replicate draws
the seeds with replacement and, within each drawn seed, that seed's H examples with replacement, and
computes the mean over the drawn seeds of metric(A) − metric(B) on the drawn examples. Both methods are
scored on the very same draw, which is what makes the comparison paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bort.tasks import metrics as M

BINARY = ("accuracy", "f1", "mcc")  # computed from confusion counts, every replicate at once
PER_EXAMPLE = BINARY + ("macro_f1", "pearson", "spearman")  # metrics of independent examples, resampled one by one


@dataclass(frozen=True)
class PairedDifference:
    difference: float  # the observed mean over seeds of metric(A) − metric(B)
    low: float
    high: float
    seeds: int
    examples: int  # H examples, summed over seeds

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def _binary(metric: str, gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``metric`` of each row of (R, n) gold / pred label arrays (labels 0/1; positive class 1), shape (R,)."""
    tp = ((pred == 1) & (gold == 1)).sum(-1).astype(float)
    fp = ((pred == 1) & (gold == 0)).sum(-1).astype(float)
    fn = ((pred == 0) & (gold == 1)).sum(-1).astype(float)
    tn = ((pred == 0) & (gold == 0)).sum(-1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "accuracy":
            return (tp + tn) / (tp + fp + fn + tn)
        if metric == "f1":  # sklearn's zero_division=0
            return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return np.where(denominator > 0, (tp * tn - fp * fn) / denominator, 0.0)  # sklearn's 0 when undefined


def score_rows(metric: str, gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``metric`` of each row of (R, n) arrays: vectorised for binary labels, the task metric's own code otherwise."""
    if metric not in PER_EXAMPLE:
        raise ValueError(f"{metric}: its examples come in groups (questions, passages); resampling them one by one "
                         f"would break the groups (expected one of {', '.join(PER_EXAMPLE)})")
    labels = np.union1d(np.unique(gold), np.unique(pred))
    if metric in BINARY and set(labels.tolist()) <= {0, 1}:
        return _binary(metric, gold, pred)
    function = getattr(M, metric)
    return np.array([function(g, p) for g, p in zip(gold, pred)])


def paired_bootstrap(metric: str, runs: Sequence[tuple[Sequence, Sequence, Sequence]], resamples: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> PairedDifference:
    """metric(A) − metric(B), its mean over ``runs`` — one (gold, predictions of A, predictions of B) per seed,
    each on that seed's H — with a percentile interval over seeds × examples (module docstring)."""
    if not runs:
        raise ValueError("paired_bootstrap needs at least one run")
    rng = np.random.default_rng(seed)
    arrays = [tuple(np.asarray(x) for x in run) for run in runs]
    for gold, a, b in arrays:
        if not len(gold) == len(a) == len(b) > 0:
            raise ValueError("each run needs gold labels and both methods' predictions on the same examples")
    observed = float(np.mean([score_rows(metric, g[None], a[None])[0] - score_rows(metric, g[None], b[None])[0]
                              for g, a, b in arrays]))
    drawn_seeds = rng.integers(0, len(arrays), size=(resamples, len(arrays)))
    totals = np.zeros(resamples)
    for s, (gold, a, b) in enumerate(arrays):
        # Every replicate draws this seed's examples once; a replicate that drew the seed m times counts it m times
        # (with one draw of examples: a simplification that keeps the cost at one pass per seed).
        times = (drawn_seeds == s).sum(1)
        rows = rng.integers(0, len(gold), size=(resamples, len(gold)))
        differences = score_rows(metric, gold[rows], a[rows]) - score_rows(metric, gold[rows], b[rows])
        totals += times * differences
    replicates = totals / len(arrays)
    tail = (1 - confidence) / 2
    return PairedDifference(observed, float(np.quantile(replicates, tail)), float(np.quantile(replicates, 1 - tail)),
                            len(arrays), sum(len(g) for g, _, _ in arrays))
