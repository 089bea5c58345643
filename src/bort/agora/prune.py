"""How Θ shrinks after each iteration: rules by name, each a small function of the scored sets.

A rule takes Θt sorted by E score, best first, and returns the sets to drop; it must drop at
least one, so that Agora ends after at most |Θ| iterations.
"""

from __future__ import annotations

from typing import Callable

from bort.agora.theta import FIELDS


def longest_shared_run(ranked: list[dict]) -> list[dict]:
    """The paper's rule ("remove the hyperparameters belonging to the longest common sequence, rooted at the
    first element"), as we read it: the longest run of consecutive sets from the first that share a
    hyperparameter value with it (the same lr, or the same weight decay, ...).

    Ranked [lr=1e-4 wd=0, lr=1e-4 wd=10, lr=1e-5 wd=0, ...] drops the first two (they share lr; wd=0
    is shared by a run of one). Only hyperparameters that still vary within Θt count: a value every set
    shares (one warm-up for all) would drop them all at once. The first set alone forms a run of one, so
    at least one set goes.
    """
    if not ranked:
        return []
    first = ranked[0]
    best = 1
    for field in (f for f in FIELDS if len({t[f] for t in ranked}) > 1):
        run = 1
        while run < len(ranked) and ranked[run][field] == first[field]:
            run += 1
        best = max(best, run)
    return ranked[:best]


def worst_shared_run(ranked: list[dict]) -> list[dict]:
    """The same rule read with the accuracies sorted in ascending order (a sort's default): the longest run of
    sets from the *worst* that share a hyperparameter value with it. Where ``longest-shared-run`` drops the
    best sets, so that the next iteration trains the ones that lost on the grown data, this one keeps the
    winners and trains them again on it — with two learning rates, iteration 2 retrains the winning one, and
    the effect of the new points is measured on one θ."""
    return longest_shared_run(ranked[::-1])[::-1]


def worst_half(ranked: list[dict]) -> list[dict]:
    """Successive halving: drop the lower-scoring half (at least one set)."""
    return ranked[len(ranked) - max(1, len(ranked) // 2):]


RULES: dict[str, Callable[[list[dict]], list[dict]]] = {"longest-shared-run": longest_shared_run,
                                                        "worst-shared-run": worst_shared_run,
                                                        "worst-half": worst_half}


def prune_or_replay(ranked: list[dict], improved: bool, replays: int, rule: str,
                    max_replays: int) -> tuple[list[dict], int]:
    """(the sets to drop, the replays in a row after this iteration). An iteration that did not improve the
    best E score is replayed (nothing dropped, D grown again) up to ``max_replays`` times in a row; the
    authors "needed to implement 'replay' ... to get it to converge better"."""
    if not improved and replays < max_replays:
        return [], replays + 1
    return RULES[rule](ranked), 0
