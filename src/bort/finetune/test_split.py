"""The task's test split, predicted by the model fine-tuning selected: what the user gave the run to be scored on.

A custom task's ``--test FILE`` is predicted whenever it is given; a benchmark's test split with ``--predict-test``
(its official test files are unlabelled, and predicting them takes time a plain run need not spend). The
predictions go to ``test_predictions.jsonl``; where the file is labelled, its scores join ``metrics.json``
beside dev's, where they are never used to select anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bort.errors import BortError
from bort.tasks.custom import CUSTOM
from bort.tasks.example import Example
from bort.tasks.predict import predictions, score
from bort.tasks.spec import TaskSpec
from bort.util.io import write_text_atomic

TEST_PREDICTIONS = "test_predictions.jsonl"


def test_examples(task: TaskSpec, cfg) -> list[Example] | None:
    """The test split to predict (read now, so that a bad file is refused before training), or None."""
    if cfg.task == CUSTOM:
        return task.read(Path(""), "test") if cfg.test else None
    if not cfg.predict_test:
        return None
    if "test" not in task.files:
        raise BortError(f"--predict-test: {task.name} has no test split (its splits: {', '.join(task.files)})")
    if not task.has_file(Path(cfg.data), "test"):
        raise BortError(f"--predict-test: {task.name}'s test file {task.path(Path(cfg.data), 'test')} does not exist")
    return task.read(Path(cfg.data), "test")


def write_test_predictions(task: TaskSpec, examples: list[Example], outputs: np.ndarray, out: Path) -> dict:
    """``out/test_predictions.jsonl`` (one row per example: uid, gold label or null, prediction, outputs), and
    what ``metrics.json`` records of it: the count, and the scores when every example has its label.

    ``outputs``: (examples, labels) float, columns in the task's label order."""
    pred = predictions(task, examples, outputs)
    rows = [json.dumps({"uid": ex.uid, "label": ex.label, "prediction": p, "output": o.tolist()})
            for ex, p, o in zip(examples, pred, np.asarray(outputs))]
    write_text_atomic(out / TEST_PREDICTIONS, "\n".join(rows) + "\n")
    labelled = all(ex.label is not None for ex in examples)
    summary: dict = {"test_examples": len(examples), "test_labelled": labelled}
    if labelled:
        summary["test_metrics"] = score(task, examples, outputs)
    return summary
