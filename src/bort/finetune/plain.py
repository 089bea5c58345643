"""The plain fine-tuning recipe: AdamW, linear warm-up and decay, clipping, early stopping on the dev metric.

Read it top to bottom: :meth:`FineTuning.setup` (the task's data, the classifier on the encoder,
the optimiser), :meth:`FineTuning.train` (epochs; after each, the dev metric decides whether the
model is the best so far and whether to stop), :meth:`FineTuning.finish` (``metrics.json``).
Agora trains each of its hyperparameter sets with this same recipe, on data it passes in.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from bort.checkpoint import classifier_from_encoder, save_model_dir
from bort.errors import BortError
from bort.finetune.config import FinetuneConfig
from bort.finetune.encode import collate, encode, model_outputs
from bort.tasks import get_task
from bort.tasks.example import Example
from bort.tasks.predict import majority_baseline, predictions, score
from bort.tokenizer import load_tokenizer
from bort.training.optim import build_optimizer
from bort.util.io import write_json_atomic, write_text_atomic

CONFIG_FILE = "finetune_config.json"


def finetune(cfg: FinetuneConfig, show_progress: bool = True, train: list[Example] | None = None,
             dev: list[Example] | None = None) -> dict:
    """Fine-tune ``cfg.model`` on ``cfg.task``; returns the metrics (also saved as metrics.json).

    ``train`` / ``dev``: examples to use instead of the task files' train and dev splits.
    """
    run = FineTuning(cfg, show_progress, train, dev)
    run.setup()
    run.train()
    return run.finish()


def balance(examples: list[Example], seed: int) -> list[Example]:
    """Drop negatives at random until the two labels are equally frequent (binary-cast tasks)."""
    pos = [e for e in examples if e.label == 1]
    neg = [e for e in examples if e.label == 0]
    rng = random.Random(seed)
    keep = set(map(id, rng.sample(neg, min(len(neg), len(pos)))))
    return [e for e in examples if e.label == 1 or id(e) in keep]


def _head_layers(model) -> list[torch.nn.Linear]:
    head = getattr(model, "classifier", None)
    return [m for m in head.modules() if isinstance(m, torch.nn.Linear)] if head is not None else []


class FineTuning:
    def __init__(self, cfg: FinetuneConfig, show_progress: bool = True, train: list[Example] | None = None,
                 dev: list[Example] | None = None):
        self.cfg, self.out, self.show_progress = cfg, Path(cfg.out), show_progress
        self.train_examples, self.dev_examples = train, dev

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        cfg = self.cfg
        # The task's data: its official train and dev files (or what the caller passed), balanced and subset.
        self.task = task = get_task(cfg.task)
        if task.test_only:
            raise BortError(f"{task.name} is a diagnostic set without training data; fine-tune {task.scored_by} and "
                            f"evaluate {task.name} with that model")
        train = self.train_examples if self.train_examples is not None else task.read(Path(cfg.data), "train")
        self.dev = self.dev_examples if self.dev_examples is not None else task.read(Path(cfg.data), "dev")
        if cfg.balance and task.kind in ("choice", "multirc"):
            train = balance(train, cfg.seed)
        if cfg.max_train_examples and len(train) > cfg.max_train_examples:
            train = random.Random(cfg.seed).sample(train, cfg.max_train_examples)
        self.train_set = train

        # The classifier: the encoder's weights, a new head (U(-a, a) with --head-init, the paper's 0.5).
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.tokenizer = load_tokenizer(cfg.model)
        self.model = classifier_from_encoder(cfg.model, task.num_labels,
                                             task.labels if task.kind == "classification" else (),
                                             task.kind == "regression", cfg.dropout)
        if cfg.head_init is not None:
            for layer in _head_layers(self.model):
                torch.nn.init.uniform_(layer.weight, -cfg.head_init, cfg.head_init)
                torch.nn.init.zeros_(layer.bias)

        # Inputs encoded once; AdamW with linear warm-up and decay over every step of every epoch.
        self.enc_train = encode(self.tokenizer, train, cfg.max_len)
        self.enc_dev = encode(self.tokenizer, self.dev, cfg.max_len)
        self.labels = torch.tensor([ex.label for ex in train],
                                   dtype=torch.float if task.kind == "regression" else torch.long)
        self.steps_per_epoch = -(-len(train) // cfg.batch_size)
        total = self.steps_per_epoch * cfg.epochs
        self.optimizer, self.scheduler = build_optimizer(self.model, cfg.lr, cfg.weight_decay, "linear",
                                                         max(1, round(cfg.warmup_ratio * total)), total)
        self.out.mkdir(parents=True, exist_ok=True)
        cfg.save(self.out / CONFIG_FILE)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.primary = task.metrics[0]  # the metric early stopping follows
        self.best, self.best_epoch, self.stale, self.history = -float("inf"), 0, 0, []
        self.started = time.perf_counter()

    # ------------------------------------------------------------------ train
    def train(self) -> None:
        from tqdm.auto import tqdm

        cfg = self.cfg
        bar = tqdm(total=self.steps_per_epoch * cfg.epochs, desc=f"fine-tuning {self.task.name}", unit="step",
                   disable=not self.show_progress, dynamic_ncols=True)
        try:
            for epoch in range(1, cfg.epochs + 1):
                self.train_epoch(epoch, bar)
                # Evaluate on dev; keep the best model so far; stop after --patience epochs without progress.
                outputs = model_outputs(self.model, self.tokenizer, self.dev, cfg.max_len, encoded=self.enc_dev)
                metrics = score(self.task, self.dev, outputs)
                self.history.append({"epoch": epoch, **metrics, "seconds": time.perf_counter() - self.started})
                if metrics[self.primary] > self.best:
                    self.best, self.best_epoch, self.stale = metrics[self.primary], epoch, 0
                    self.save_best(outputs)
                else:
                    self.stale += 1
                bar.set_postfix(**{f"dev_{self.primary}": f"{metrics[self.primary]:.3f}", "best": f"{self.best:.3f}"})
                if self.stale >= cfg.patience:
                    break
        finally:
            bar.close()

    def train_epoch(self, epoch: int, bar) -> None:
        cfg = self.cfg
        self.model.train()
        order = torch.randperm(len(self.train_set), generator=self.generator).tolist()
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            # Forward: the task's loss (cross-entropy, or MSE for STS-B) on one shuffled batch.
            batch = collate(self.enc_train, rows, self.tokenizer.pad_token_id)
            loss = self.model(**batch, labels=self.labels[rows]).loss
            if not torch.isfinite(loss):
                raise BortError(f"the loss became {float(loss)} in epoch {epoch}; lower --lr")
            # Backward and the optimizer step: clip, update, advance the schedule.
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}",
                            **({f"dev_{self.primary}": f"{self.best:.3f}"} if self.history else {}))

    def save_best(self, outputs: np.ndarray) -> None:
        """The best model so far as an HF directory, and its dev predictions."""
        save_model_dir(self.model, self.tokenizer, self.out)
        pred = predictions(self.task, self.dev, outputs)
        lines = [json.dumps({"uid": ex.uid, "label": ex.label, "prediction": p, "output": o.tolist()})
                 for ex, p, o in zip(self.dev, pred, outputs)]
        write_text_atomic(self.out / "dev_predictions.jsonl", "\n".join(lines) + "\n")

    # ------------------------------------------------------------------ finish
    def finish(self) -> dict:
        result = {
            "task": self.task.name, "best_epoch": self.best_epoch, "dev": self.history[self.best_epoch - 1],
            "history": self.history, "majority_baseline": majority_baseline(self.task, self.train_set, self.dev),
            "train_examples": len(self.train_set), "dev_examples": len(self.dev),
            "seconds": time.perf_counter() - self.started,
        }
        write_json_atomic(self.out / "metrics.json", result)
        return result
