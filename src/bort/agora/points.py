"""Agora's new points: the iteration winner's mistakes on E, perturbed by φ, labelled by Socrates, then filtered
(--min-confidence, --keep-label-balance, --max-added-share) before they join D."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from bort.agora import diagnose
from bort.agora.socrates import Socrates
from bort.tasks import augment as phis
from bort.tasks.example import Example
from bort.tasks.predict import predictions
from bort.tasks.spec import TaskSpec
from bort.util.io import write_text_atomic


def is_mistake(task: TaskSpec, example: Example, prediction) -> bool:
    """A wrong prediction; STS-B's scores compared rounded (the paper's way of making Agora's check
    classification-like)."""
    if task.kind == "regression":
        return round(prediction) != round(example.label)
    return prediction != example.label


def new_points(path: Path, cfg, task: TaskSpec, phi, socrates: Socrates, train: list[Example], e: list[Example],
               outputs: np.ndarray, d: list[Example], k: int) -> dict:
    """Iteration ``k``'s new points from the mistakes of the winner's E ``outputs`` (len(e), num_labels), made
    unless ``path`` holds them (every point, with its lineage, Socrates' label and whether it was kept); returns
    their counts and diagnostics."""
    pred = predictions(task, e, outputs)
    mistakes = [ex for ex, p in zip(e, pred) if is_mistake(task, ex, p)]
    if not path.is_file():
        rng = random.Random(cfg.seed * 1_000_003 + k)  # the same points on a rerun after a kill
        seen = {(ex.text_a, ex.text_b) for ex in d + e}
        made = [(new, segment, source) for source in mistakes
                for new, segment in phis.perturb(phi, source, cfg.phi_per_mistake, rng, seen)]
        labels = socrates.label([new for new, _, _ in made])
        records = [{"text_a": new.text_a, "text_b": new.text_b, "source": source.uid,
                    "source_label": source.label, "source_text": getattr(source, segment), "phi": cfg.phi,
                    "segment": segment, "label": lab["label"], "confidence": lab["confidence"]}
                   for (new, segment, source), lab in zip(made, labels)]
        kept = filter_points(cfg, task, train, records, rng)
        lines = [json.dumps({**r, "kept": i in kept}) for i, r in enumerate(records)]
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, "".join(line + "\n" for line in lines))
    points = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kept_points = [p for p in points if p.get("kept", True)]
    return {"mistakes": len(mistakes), "added": len(kept_points), "kept_labels": [p["label"] for p in kept_points],
            "diagnostics": {"mistake_labels": diagnose.label_balance(task, [ex.label for ex in mistakes]),
                            "made": diagnose.additions_summary(task, points),
                            "kept": diagnose.additions_summary(task, kept_points),
                            "pairs": diagnose.sample_pairs(points, 10, cfg.seed + k)}}


def filter_points(cfg, task: TaskSpec, train: list[Example], records: list[dict], rng: random.Random) -> set[int]:
    """Which new points join D: those Socrates is confident enough about (--min-confidence), subsampled so
    that their labels follow the training set's proportions (--keep-label-balance), then to at most
    --max-added-share of the training set's size."""
    keep = [i for i, r in enumerate(records) if r["confidence"] is None or r["confidence"] >= cfg.min_confidence]
    if cfg.keep_label_balance and task.kind == "classification":
        share = {i: sum(ex.label == i for ex in train) / len(train) for i in range(task.num_labels)}
        by_label = {i: [j for j in keep if records[j]["label"] == i] for i in share}
        room = min(len(by_label[i]) / share[i] for i in share if share[i] > 0)
        keep = [j for i in share for j in rng.sample(by_label[i], int(room * share[i]))]
    if cfg.max_added_share is not None and len(keep) > cfg.max_added_share * len(train):
        keep = rng.sample(keep, int(cfg.max_added_share * len(train)))
    return set(keep)
