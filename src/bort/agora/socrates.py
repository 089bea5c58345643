"""Socrates: the stronger model that labels Agora's new points, with its own tokenizer and label names.

Any local sequence-classification directory fine-tuned on the task. Its classes are mapped onto the
task's by ``id2label`` names (as ``bort evaluate`` does), its score on E is measured before any
training, and its labels are cached per text in ``socrates_labels.jsonl``, so that no text is
labelled twice, across iterations or a resume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bort.finetune.distil import TaskTeacher, text_key
from bort.tasks.example import Example
from bort.tasks.predict import predictions
from bort.tasks.spec import TaskSpec
from bort.util.io import append_log, read_log


def agreement(task: TaskSpec, examples: list[Example], outputs: np.ndarray) -> float:
    """The share of examples whose prediction equals the label; STS-B's scores compared rounded (the paper's way)."""
    pred = predictions(task, examples, outputs)
    if task.kind == "regression":
        return float(np.mean([round(p) == round(ex.label) for p, ex in zip(pred, examples)]))
    return float(np.mean([p == ex.label for p, ex in zip(pred, examples)]))


class Socrates:
    def __init__(self, model_dir: str, task: TaskSpec, max_len: int, cache: Path):
        self.model_dir, self.task, self.max_len, self.cache = model_dir, task, max_len, Path(cache)
        self.teacher = TaskTeacher(model_dir, task, max_len, flag="--socrates")
        self.labels = {r["key"]: r for r in read_log(self.cache)}

    def outputs(self, examples: list[Example]) -> np.ndarray:
        """(n, num_labels) outputs, columns in the task's label order."""
        return self.teacher.fresh_outputs(examples)

    def score(self, examples: list[Example]) -> float:
        return agreement(self.task, examples, self.outputs(examples))

    def label(self, examples: list[Example]) -> list[dict]:
        """{"label", "confidence"} per example (the softmax's top probability; None for regression), cached."""
        todo = [ex for ex in examples if text_key(ex) not in self.labels]
        if todo:
            outputs = self.outputs(todo)
            if self.task.kind == "regression":
                found = [(float(o[0]), None) for o in outputs]
            else:
                probs = torch.softmax(torch.from_numpy(outputs), -1).numpy()
                found = [(int(p.argmax()), float(p.max())) for p in probs]
            for ex, (label, confidence) in zip(todo, found):
                record = {"key": text_key(ex), "label": label, "confidence": confidence}
                append_log(self.cache, record)
                self.labels[record["key"]] = record
        return [self.labels[text_key(ex)] for ex in examples]
