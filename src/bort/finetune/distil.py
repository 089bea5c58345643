"""Task distillation: the student learns the task from the fine-tuned teacher's outputs as well as the gold labels.

The loss of one example (Hinton et al., 2015; the task-specific stage of TinyBERT and DistilBERT):

- classification: α·τ²·KL(softmax(t/τ) ‖ softmax(s/τ)) + (1 − α)·CE(s, gold)
- regression (STS-B): α·(s − t)² + (1 − α)·(s − gold)²

where ``s`` and ``t`` are the student's and the teacher's logits. An example without a gold label (an
augmented copy, a line of ``--unlabeled`` text) takes the teacher's term alone (its α is 1). The batch's
loss is the mean over its examples.

The teacher's outputs are computed once per distinct input and cached by content in the run directory
(``teacher_outputs.jsonl``), in the task's label order, so that epochs, augmented copies and re-runs
never pay for them twice.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bort.checkpoint import has_masked_lm_head, load_classifier, load_config
from bort.errors import BortError
from bort.tasks.custom import CUSTOM
from bort.tasks.encode import model_outputs
from bort.tasks.example import Example
from bort.tasks.labels import label_order
from bort.tasks.layout import folder_name
from bort.tasks.registry import get_task
from bort.tasks.spec import TaskSpec
from bort.tokenizer import load_tokenizer
from bort.util.io import append_records, read_log

CACHE_FILE = "teacher_outputs.jsonl"
CHUNK = 512  # inputs labelled between two appends to the cache


def text_key(example: Example) -> str:
    """The cache key of an input: its texts (labels, ids and groups play no part)."""
    return hashlib.sha1(json.dumps([example.text_a, example.text_b]).encode()).hexdigest()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, gold: torch.Tensor, has_gold: torch.Tensor,
                      alpha: float, temperature: float, regression: bool) -> torch.Tensor:
    """The mean over the batch of each example's α·teacher term + (1 − α)·gold term (α = 1 without gold).

    ``student``, ``teacher``: (batch, num_labels) logits (num_labels 1 for regression); ``gold``: (batch,)
    class indices (long) or targets (float), any value where ``has_gold`` (batch,) bool is False.
    """
    weight = torch.where(has_gold, torch.full_like(has_gold, alpha, dtype=torch.float), torch.ones_like(
        has_gold, dtype=torch.float))
    if regression:
        soft = (student.float().squeeze(-1) - teacher.float().squeeze(-1)) ** 2
        hard = (student.float().squeeze(-1) - gold.float()) ** 2
    else:
        log_p_student = F.log_softmax(student.float() / temperature, dim=-1)
        log_p_teacher = F.log_softmax(teacher.float() / temperature, dim=-1)
        soft = temperature ** 2 * (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(-1)
        hard = F.cross_entropy(student.float(), torch.where(has_gold, gold, torch.zeros_like(gold)).long(),
                               reduction="none")
    hard = torch.where(has_gold, hard, torch.zeros_like(hard))
    return (weight * soft + (1 - weight) * hard).mean()


def fine_tuned_task(model_dir: str | Path) -> TaskSpec | None:
    """The benchmark task bort fine-tuned ``model_dir`` on (its ``finetune_config.json``, the name as it was
    typed: an alias, any case); None for any other model, and for the user's own task."""
    saved = Path(model_dir) / "finetune_config.json"
    try:
        return get_task(json.loads(saved.read_text(encoding="utf-8"))["task"])
    except (OSError, ValueError, KeyError, TypeError, BortError):
        return None


class TaskTeacher:
    """A fine-tuned classifier (or regressor) for ``task``, its outputs in the task's label order.

    ``flag`` names the option the directory came from in every error (``--teacher``, ``--socrates``).
    Refused in one line: a directory without a classification head, another number of labels (a
    regressor for a classification task included), class names that are not the task's, and a model
    bort fine-tuned on another task's data (its ``finetune_config.json`` says which), even with the same labels
    (MNLI-m's model serves MNLI-mm: one training set).
    """

    def __init__(self, model_dir: str | Path, task: TaskSpec, max_len: int, flag: str = "--teacher"):
        self.model_dir, self.task, self.max_len, self.flag = str(model_dir), task, max_len, flag
        trained_on = fine_tuned_task(model_dir)
        if trained_on is not None and task.name != CUSTOM and folder_name(trained_on) != folder_name(task):
            raise BortError(f"{flag} {model_dir} was fine-tuned on {trained_on.name} (its finetune_config.json); "
                            f"{task.name} needs a model fine-tuned on {task.name}")
        self.model = load_classifier(model_dir)
        labels = self.model.config.num_labels
        if labels != task.num_labels:
            raise BortError(f"{flag} {model_dir} predicts {labels} labels; {task.name} needs {task.num_labels} "
                            f"(expected a model fine-tuned on {task.name})")
        self.order = label_order(self.model.config, task, f"{flag} {model_dir}")
        self.tokenizer = load_tokenizer(model_dir)
        self.cache: Path | None = None
        self.known: dict[str, list[float]] = {}

    def attach_cache(self, path: Path) -> None:
        """Keep every output computed from now on in ``path`` (JSON lines), and reuse those already there."""
        self.cache = Path(path)
        self.known.update({r["key"]: r["output"] for r in read_log(self.cache)})

    def fresh_outputs(self, examples: list[Example]) -> np.ndarray:
        """(n, num_labels) outputs computed now, columns in the task's label order."""
        out = model_outputs(self.model, self.tokenizer, examples, self.max_len)
        return out if self.order is None else out[:, self.order]

    def outputs(self, examples: list[Example]) -> np.ndarray:
        """:meth:`fresh_outputs`, each distinct input computed once and kept in the cache (when there is one)."""
        keys = [text_key(ex) for ex in examples]
        todo = list({key: ex for key, ex in zip(keys, examples) if key not in self.known}.items())
        for start in range(0, len(todo), CHUNK):  # logged chunk by chunk: a stopped run keeps what it labelled
            chunk = todo[start:start + CHUNK]
            for (key, _), row in zip(chunk, self.fresh_outputs([ex for _, ex in chunk])):
                self.known[key] = row.tolist()
            if self.cache is not None:
                append_records(self.cache, [{"key": key, "output": self.known[key]} for key, _ in chunk])
        return np.asarray([self.known[key] for key in keys], dtype=np.float32).reshape(len(keys), -1)


def check_same_vocabulary(student, s_config, student_dir: str | Path, teacher_dir: str | Path,
                          flag: str = "--teacher") -> None:
    """The student (its loaded tokenizer and config) and its teacher read the same tokens (the student is cut from
    the teacher): one line if not."""
    teacher = load_tokenizer(teacher_dir)
    if student.get_vocab() != teacher.get_vocab():
        raise BortError(f"{flag} {teacher_dir}: its vocabulary ({len(teacher)} tokens) differs from the student's "
                        f"{student_dir} ({len(student)} tokens); distil from the teacher the student was cut from")
    t_config = load_config(teacher_dir)
    if s_config.vocab_size != t_config.vocab_size:
        raise BortError(f"{flag} {teacher_dir}: its embedding has {t_config.vocab_size} rows, the student's "
                        f"{s_config.vocab_size}; distil from the teacher the student was cut from")


def check_phi_model(model_dir: str | Path, flag: str) -> None:
    """``--augment`` with φ mlm-replace samples from a masked LM: refused up front when ``model_dir`` has none."""
    if not has_masked_lm_head(load_config(model_dir)):
        raise BortError(f"--augment with --phi mlm-replace samples from a masked LM, and {flag} {model_dir} has no "
                        "masked-LM head: give --phi-model MLM_DIR (e.g. the teacher the student was cut from) or "
                        "--phi word-dropout / word-swap")
