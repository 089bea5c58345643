"""ê on the user's task (``bort search --task``): what a candidate becomes when it is distilled on the task.

The corpus ê asks how fast a candidate learns the teacher's masked-LM distribution; the user, though, keeps the
student that scores best on their task after task distillation. Here the teacher is the task's fine-tuned model:
each candidate starts from its weights cut out of that teacher (task-aware extraction: the units scored once,
with Taylor importance on the task's loss over its training inputs, the classifier head kept), takes s SGD steps
of task distillation on fixed training batches (the soft cross-entropy with the teacher's outputs at τ; the mean
squared error for a regression), and ê is that loss on fixed held-out inputs of the task's dev split. The
teacher's outputs on both are computed once and cached (``task_cache.pt``, read back with ``weights_only``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from bort.architecture import Arch
from bort.distill.losses import soft_cross_entropy
from bort.errors import BortError
from bort.search.sgd import held_out_loss, sgd_steps
from bort.tasks.custom import CustomTaskOptions

TASK_CACHE = "task_cache.pt"
TASK_IMPORTANCE = "task_importance.json"
CALIBRATION_BATCHES = 4  # batches of --batch-size training inputs the teacher's units are scored on


def _task_and_examples(cfg, teacher_config):
    from bort.tasks.custom import resolve_task

    task = resolve_task(cfg, teacher_config)
    if teacher_config.num_labels != task.num_labels:
        raise BortError(f"--teacher {cfg.teacher} predicts {teacher_config.num_labels} labels; {task.name} needs "
                        f"{task.num_labels} (expected the model fine-tuned on {task.name})")
    data = Path(cfg.data or "")
    return task, task.read(data, "train"), task.read(data, "dev")


def check(cfg, teacher_config) -> None:
    """The task's files read and sized now, before the search writes or measures anything: the teacher's classes
    against the task's, and one batch of training and of dev inputs at least."""
    _, train, held = _task_and_examples(cfg, teacher_config)
    for split, examples in (("training", train), ("dev", held)):
        if len(examples) < cfg.batch_size:
            raise BortError(f"the task's {split} split holds {len(examples)} examples where a batch takes "
                            f"{cfg.batch_size}; lower --batch-size")


def _batches(tokenizer, examples: list, n_batches: int, batch_size: int, max_len: int, seed: int) -> list[dict]:
    """``n_batches`` fixed batches of ``batch_size`` examples drawn without replacement (seeded), as fine-tuning
    encodes them: input_ids, attention_mask (and token_type_ids for BERT's pairs), each (B, S)."""
    from bort.tasks.encode import collate, encode

    n = min(n_batches, len(examples) // batch_size)
    if n == 0:
        raise BortError(f"the task holds {len(examples)} examples where a batch takes {batch_size}; lower --batch-size")
    rows = np.random.default_rng(seed).permutation(len(examples))[:n * batch_size]
    encoded = encode(tokenizer, [examples[i] for i in rows], max_len)
    return [collate(encoded, list(range(k * batch_size, (k + 1) * batch_size)), tokenizer.pad_token_id)
            for k in range(n)]


def build(cfg, out: Path, teacher_config, tokenizer) -> dict:
    """The fixed batches with the teacher's outputs (``task_cache.pt``) and the teacher's units scored on the task
    (``task_importance.json``), each made once; returns what the cache holds."""
    from bort.checkpoint import load_classifier
    from bort.extract.importance import measure_importance
    from bort.util.io import write_json_atomic

    cache = out / TASK_CACHE
    if cache.is_file() and (out / TASK_IMPORTANCE).is_file():
        return load(out)
    started = time.perf_counter()
    task, train, held = _task_and_examples(cfg, teacher_config)
    teacher = load_classifier(cfg.teacher).eval()
    train_batches = _batches(tokenizer, train, cfg.steps, cfg.batch_size, cfg.seq_len, cfg.seed)
    val_batches = _batches(tokenizer, held, cfg.val_batches, cfg.batch_size, cfg.seq_len, cfg.seed + 1)
    with torch.inference_mode():
        train_logits = [teacher(**batch).logits.float() for batch in train_batches]
        val_logits = [teacher(**batch).logits.float() for batch in val_batches]
    # Units scored on the task's loss over its training inputs (the gold labels' gradients), as `bort extract
    # --task --importance taylor` scores them.
    from bort.extract.task_calibration import task_calibration

    names = ("task", "data", "teacher", "batch_size", "seq_len", "seed",
             *(f.name for f in dataclasses.fields(CustomTaskOptions)))
    calibration = SimpleNamespace(**{name: getattr(cfg, name) for name in names},
                                  calibration_batches=min(CALIBRATION_BATCHES, len(train) // cfg.batch_size),
                                  custom_files=cfg.custom_files)
    batches, labelled = task_calibration(calibration, tokenizer, teacher_config)
    write_json_atomic(out / TASK_IMPORTANCE, measure_importance(teacher, batches, "taylor", labelled).to_dict())
    state = {"regression": task.kind == "regression", "train": train_batches, "train_logits": train_logits,
             "val": val_batches, "val_logits": val_logits, "seconds": time.perf_counter() - started}
    tmp = cache.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(cache)
    return state


def load(out: Path) -> dict:
    return torch.load(out / TASK_CACHE, weights_only=True)


def task_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
              regression: bool) -> torch.Tensor:
    """The task-distillation loss of a batch: (B, C) logits against the teacher's (B, C); the soft cross-entropy
    at τ (averaged over examples), or for a regression (C = 1) the mean squared error to the teacher's value."""
    if regression:
        return F.mse_loss(student_logits.float(), teacher_logits.float())
    return soft_cross_entropy(student_logits, teacher_logits, temperature)


def train_and_score(arch: Arch, teacher, importance, cache: dict, steps: int, lr: float, clip: float,
                    warmup_steps: int, temperature: float, seed: int) -> dict:
    """``arch`` cut out of the fine-tuned ``teacher`` by ``importance``, ``steps`` SGD steps of task distillation
    on the cached batches (cycling), then ê: the loss on the held-out batches, averaged over their examples."""
    from bort.extract.extractor import extract_model
    from bort.search.candidate import candidate_seed

    started = time.perf_counter()
    torch.manual_seed(candidate_seed(seed, arch))
    student, _ = extract_model(teacher, importance, arch)

    def loss_of(batch: dict, teacher_logits: torch.Tensor) -> torch.Tensor:
        return task_loss(student(**batch).logits, teacher_logits, temperature, cache["regression"])

    train = list(zip(cache["train"], cache["train_logits"]))
    losses = sgd_steps(student, lambda step: loss_of(*train[step % len(train)]), steps, lr, clip, warmup_steps)
    e_hat = held_out_loss(student, lambda: ((loss_of(batch, logits), len(logits))
                                            for batch, logits in zip(cache["val"], cache["val_logits"])))
    return {"e_hat": e_hat, "train_losses": losses, "train_seconds": time.perf_counter() - started}
