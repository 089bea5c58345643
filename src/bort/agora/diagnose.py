"""What Agora's iterations did, measured: how far φ moves a text, whether Socrates' labels keep the gold
label, what the new points' labels are, and whether a training collapsed to one class.

These numbers explain a run rather than steer it: none of them feeds a selection (the H scores an
iteration records are read by the report alone).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Callable

import numpy as np

from bort.tasks.example import Example
from bort.tasks.predict import predictions
from bort.tasks.spec import TaskSpec

COLLAPSE_SHARE = 0.95  # a model giving one label to at least this share of E has collapsed onto it


def token_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two texts' whitespace-separated words (insertions, deletions, substitutions)."""
    x, y = a.split(), b.split()
    previous = list(range(len(y) + 1))
    for i, word in enumerate(x, 1):
        current = [i]
        for j, other in enumerate(y, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def prediction_shares(task: TaskSpec, examples: list[Example], outputs: np.ndarray) -> dict[str, float] | None:
    """The share of ``examples`` given each label (None for regression, where no class can take over)."""
    if task.kind != "classification":
        return None
    counts = Counter(predictions(task, examples, outputs))
    return {label: counts.get(i, 0) / len(examples) for i, label in enumerate(task.labels)}


def collapsed(shares: dict[str, float] | None) -> bool:
    return shares is not None and max(shares.values()) >= COLLAPSE_SHARE


def label_balance(task: TaskSpec, labels: list) -> dict[str, int] | None:
    """How many points carry each label (None for regression)."""
    if task.kind != "classification":
        return None
    counts = Counter(labels)
    return {label: counts.get(i, 0) for i, label in enumerate(task.labels)}


def agrees(task: TaskSpec, label, gold) -> bool:
    """Socrates' label against a gold one; regression scores compared rounded, as Agora's mistakes are."""
    return round(label) == round(gold) if task.kind == "regression" else label == gold


def additions_summary(task: TaskSpec, points: list[dict]) -> dict:
    """An iteration's new points (the records of augmented/iteration-K.jsonl): their Socrates labels' balance,
    how often Socrates kept the source's gold label, its mean confidence, and φ's token edit distance."""
    if not points:
        return {"points": 0}
    distances = [token_edit_distance(p["source_text"], p[p["segment"]]) for p in points if "source_text" in p]
    confidences = [p["confidence"] for p in points if p.get("confidence") is not None]
    return {
        "points": len(points),
        "labels": label_balance(task, [p["label"] for p in points]),
        "socrates_keeps_source_label": float(np.mean([agrees(task, p["label"], p["source_label"]) for p in points])),
        "mean_confidence": float(np.mean(confidences)) if confidences else None,
        "edit_distance_mean": float(np.mean(distances)) if distances else None,
        "edit_distance_median": float(np.median(distances)) if distances else None,
    }


def sample_pairs(points: list[dict], k: int = 10, seed: int = 0) -> list[dict]:
    """``k`` seeded (source, perturbed, Socrates label, source's gold label) pairs to read."""
    chosen = random.Random(seed).sample(points, min(k, len(points)))
    return [{"source": p["source_text"], "new": p[p["segment"]], "label": p["label"], "source_label": p["source_label"],
             "confidence": p.get("confidence")} for p in chosen if "source_text" in p]


def phi_check(task: TaskSpec, phi: Callable, socrates, train: list[Example], n: int, seed: int) -> dict:
    """φ applied to ``n`` seeded training examples, whose gold labels are known: how often Socrates gives the
    perturbed text the source's gold label, beside how often it gets the unperturbed source right. The gap
    is the label noise φ + Socrates add before Agora trains on anything."""
    from bort.tasks.augment import perturb

    rng = random.Random(seed)
    sample = rng.sample(train, min(n, len(train)))
    made = [(new, segment, source) for source in sample for new, segment in perturb(phi, source, 1, rng, set())]
    if not made:
        return {"examples": 0}
    labels = socrates.label([new for new, _, _ in made])
    on_sources = socrates.label([source for _, _, source in made])
    distances = [token_edit_distance(getattr(source, segment), getattr(new, segment)) for new, segment, source in made]
    return {
        "examples": len(made),
        "socrates_on_sources": float(np.mean([agrees(task, lab["label"], s.label) for lab, (_, _, s) in
                                              zip(on_sources, made)])),
        "socrates_on_perturbed": float(np.mean([agrees(task, lab["label"], s.label) for lab, (_, _, s) in
                                                zip(labels, made)])),
        "label_changed_by_phi": float(np.mean([not agrees(task, a["label"], b["label"]) for a, b in
                                               zip(labels, on_sources)])),
        "edit_distance_mean": float(np.mean(distances)),
    }
