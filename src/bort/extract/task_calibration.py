"""Task-aware extraction's calibration: the fine-tuned teacher's units scored on the task's own inputs.

The batches are a seeded sample of the task's training examples, encoded as fine-tuning encodes them;
with ``--importance taylor`` the loss behind the gradients is the teacher's classification (or
regression) loss on their gold labels — what the task needs, not what a masked LM needs (CoFi, Xia et al.
2022; block movement pruning, Lagunas et al. 2021, both score units on the fine-tuned model's task loss).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bort.errors import BortError
from bort.tasks.custom import class_names, resolve_task
from bort.tasks.encode import collate, encode
from bort.tasks.labels import label_order


def task_calibration(cfg, tokenizer, teacher_config) -> tuple[list[dict[str, torch.Tensor]],
                                                                 list[tuple[torch.Tensor, torch.Tensor]]]:
    """``cfg.calibration_batches`` batches of ``cfg.batch_size`` training examples (seeded, without replacement),
    ``cfg.seq_len`` tokens at most: the model inputs (B, S) and, for Taylor scores, (input_ids, labels (B,))."""
    task = resolve_task(cfg, teacher_config)
    if teacher_config.num_labels != task.num_labels:
        raise BortError(f"--teacher {cfg.teacher} predicts {teacher_config.num_labels} labels; {task.name} needs "
                        f"{task.num_labels} (expected a model fine-tuned on {task.name})")
    if label_order(teacher_config, task, f"--teacher {cfg.teacher}") is not None:  # (other names: refused there)
        raise BortError(f"--teacher {cfg.teacher} orders {task.name}'s classes otherwise (config.json id2label: "
                        f"{class_names(teacher_config)}); task-aware extraction keeps the head as it is, so it needs "
                        f"the task's order {list(task.labels)}")
    examples = task.read(Path(cfg.data or ""), "train")
    needed = cfg.calibration_batches * cfg.batch_size
    if len(examples) < needed:
        raise BortError(f"{task.name}'s training set holds {len(examples)} examples, {needed} needed for calibration "
                        f"(--calibration-batches {cfg.calibration_batches} × --batch-size {cfg.batch_size})")
    rows = np.random.default_rng(cfg.seed).permutation(len(examples))[:needed]
    chosen = [examples[i] for i in rows]
    encoded = encode(tokenizer, chosen, cfg.seq_len)
    dtype = torch.float if task.kind == "regression" else torch.long
    batches, labelled = [], []
    for k in range(cfg.calibration_batches):
        part = list(range(k * cfg.batch_size, (k + 1) * cfg.batch_size))
        batch = collate(encoded, part, tokenizer.pad_token_id)
        batches.append(batch)
        labelled.append((batch["input_ids"], torch.tensor([chosen[i].label for i in part], dtype=dtype)))
    return batches, labelled
