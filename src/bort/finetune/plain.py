"""The plain fine-tuning recipe: AdamW, linear warm-up and decay, clipping, early stopping on the dev metric.

Read it top to bottom: :meth:`FineTuning.setup` (the task's data, the models, the classifier on the encoder,
the run directory, the optimiser), :meth:`FineTuning.train` (epochs; after each, the dev metric decides whether the
model is the best so far and whether to stop; a checkpoint that a re-run of the same command continues from),
:meth:`FineTuning.finish` (``metrics.json``).
Agora trains each of its hyperparameter sets with this same recipe, on data it passes in.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from bort.checkpoint import (check_fits, classifier_from_encoder, freeze_pooler_to_identity, load_classifier,
                             load_config, save_model_dir)
from bort.errors import BortError
from bort.finetune.augmented import AUGMENT_FILE, augmented_inputs, unlabeled_inputs
from bort.finetune.config import FinetuneConfig
from bort.finetune.defaults import more_epochs_hint, resolve as resolve_defaults
from bort.finetune.processes import Processes
from bort.finetune.distil import (CACHE_FILE as TEACHER_CACHE, TaskTeacher, check_phi_model, check_same_vocabulary,
                                  distillation_loss)
from bort.tasks.encode import collate, encode, model_outputs
from bort.finetune.holdout import describe, select_and_hold_out
from bort.finetune.intermediate import IntermediateDistillation
from bort.finetune.test_split import test_examples, write_test_predictions
from bort.finetune.card import finetuning_card
from bort.tasks.custom import resolve_task
from bort.tasks.example import Example
from bort.tasks.predict import majority_baseline, predictions, score
from bort.tokenizer import load_tokenizer
from bort.training import train_state
from bort.training.optim import build_optimizer
from bort.util.io import write_json_atomic, write_text_atomic
from bort.util.run_dir import Resume, RunDirectory

CONFIG_FILE = "finetune_config.json"


def finetune(cfg: FinetuneConfig, show_progress: bool = True, train: list[Example] | None = None,
             dev: list[Example] | None = None) -> dict:
    """Fine-tune ``cfg.model`` on ``cfg.task``; returns the metrics (also saved as metrics.json).

    ``train`` / ``dev``: examples to use instead of the task files' train and dev splits.
    """
    run = FineTuning(cfg, show_progress, train, dev)
    try:
        run.setup()
        run.train()
        return run.finish()
    finally:
        run.run_dir.release()


def balance(examples: list[Example], seed: int) -> list[Example]:
    """Drop negatives at random until the two labels are equally frequent (binary-cast tasks)."""
    pos = [e for e in examples if e.label == 1]
    neg = [e for e in examples if e.label == 0]
    rng = random.Random(seed)
    keep = set(map(id, rng.sample(neg, min(len(neg), len(pos)))))
    return [e for e in examples if e.label == 1 or id(e) in keep]


def training_set(task, train: list[Example], cfg: FinetuneConfig) -> list[Example]:
    """The examples trained on: balanced (--balance, pair-cast tasks), then a seeded --max-train-examples subset."""
    if cfg.balance and task.kind in ("choice", "multirc"):
        train = balance(train, cfg.seed)
    if cfg.max_train_examples and len(train) > cfg.max_train_examples:
        train = random.Random(cfg.seed).sample(train, cfg.max_train_examples)
    return train


def _head_layers(model) -> list[torch.nn.Linear]:
    head = getattr(model, "classifier", None)
    return [m for m in head.modules() if isinstance(m, torch.nn.Linear)] if head is not None else []


class FineTuning:
    def __init__(self, cfg: FinetuneConfig, show_progress: bool = True, train: list[Example] | None = None,
                 dev: list[Example] | None = None):
        self.cfg, self.out, self.show_progress = cfg, Path(cfg.out), show_progress
        self.train_examples, self.dev_examples = train, dev
        self.run_dir = RunDirectory(self.out, config_file=CONFIG_FILE)  # checked now; claimed once the inputs are

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Inputs first, so that a bad one is refused before anything is written; then the run directory, claimed
        only once the run can start; then what the training goes through. (Several processes: the main one sets up
        the directory, makes the copies and the teacher's cache; the others read them.)"""
        self.processes = Processes(self.cfg.batch_size)  # one, or several under torchrun / accelerate launch
        self.read_data()
        self.check_models()
        self.build_classifier()
        checkpoint = self.open_run_dir()
        with self.processes.main_first():
            self.prepare_training(checkpoint)
        # What the training steps go through: the model itself, or its DDP wrapper over several processes (a
        # collective step: all of them take it together, after the block above).
        self.train_model, self.optimizer = self.processes.prepare(self.trained, self.optimizer)
        self.device = next(self.model.parameters()).device  # a GPU's under accelerate on a GPU machine
        if self.intermediate is not None:  # the teacher runs at every step beside the student
            self.teacher.model.to(self.device)
        self.started = time.perf_counter() - (self.progress["history"][-1]["seconds"] if self.progress["history"]
                                              else 0.0)

    def read_data(self) -> None:
        """The task and its examples: its official train and dev files, or what the caller passed (Agora); --out
        apart from every input, which the run would overwrite. Early stopping selects on E (dev); H, when there is
        one, is scored once at the end, so that the reported score is not the one that chose the epoch."""
        cfg = self.cfg
        self.task = task = resolve_task(cfg)
        if task.test_only:
            raise BortError(f"{task.name} is a diagnostic set without training data; fine-tune {task.scored_by} and "
                            f"evaluate {task.name} with that model")
        self.run_dir.check({"--model": cfg.model, "--teacher": cfg.teacher, "--phi-model": cfg.phi_model,
                            **{f"--unlabeled {path}": path for path in cfg.unlabeled or []}})
        train = self.train_examples if self.train_examples is not None else task.read(Path(cfg.data or ""), "train")
        dev = self.dev_examples if self.dev_examples is not None else task.read(Path(cfg.data or ""), "dev")
        self.dev, self.holdout_set = select_and_hold_out(task, dev, cfg.holdout_share, cfg.holdout, cfg.seed)
        self.train_set = training_set(task, train, cfg)
        self.test_set = test_examples(task, cfg)  # read now: a bad test file is refused before the training
        self.unlabeled = unlabeled_inputs(cfg.unlabeled, cfg.text_column, cfg.text_pair_column or "text_pair",
                                          any(ex.text_b is not None for ex in self.train_set)) if cfg.unlabeled else []

    def check_models(self) -> None:
        """The encoder, whether its tokenizer and --max-len fit it; with --teacher the fine-tuned teacher, checked
        against the task and the student's vocabulary (its outputs are read token for token); --phi-model. All
        before training, which would otherwise fail epochs in. The learning rate and epochs: the user's, else
        chosen for the model's size (:mod:`bort.finetune.defaults`)."""
        cfg, task = self.cfg, self.task
        self.max_len = cfg.max_len or task.max_len
        self.tokenizer = load_tokenizer(cfg.model)
        model_config = load_config(cfg.model)
        check_fits(Path(cfg.model), model_config, self.tokenizer, self.max_len)
        self.lr, self.epochs, self.hyper_source = resolve_defaults(cfg.lr, cfg.epochs, model_config)
        self.teacher = None
        if cfg.teacher:
            if not Path(cfg.teacher).is_dir():
                what = "is not a directory" if Path(cfg.teacher).exists() else "does not exist"
                raise BortError(f"--teacher {cfg.teacher} {what} (expected the folder of a classifier fine-tuned on "
                                f"{task.name})")
            check_same_vocabulary(self.tokenizer, model_config, cfg.model, cfg.teacher)
            self.teacher = TaskTeacher(cfg.teacher, task, self.max_len)
        if cfg.augment and cfg.phi == "mlm-replace":
            check_phi_model(cfg.phi_model or cfg.model, "--phi-model" if cfg.phi_model else "--model")

    def build_classifier(self) -> None:
        """The encoder's weights under a new head (U(-a, a) with --head-init, the paper's 0.5), seeded so that the
        same command draws the same head."""
        cfg, task = self.cfg, self.task
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.model = classifier_from_encoder(cfg.model, task.num_labels,
                                             task.labels if task.kind == "classification" else (),
                                             task.kind == "regression", cfg.dropout)
        if cfg.head_init is not None:
            for layer in _head_layers(self.model):
                torch.nn.init.uniform_(layer.weight, -cfg.head_init, cfg.head_init)
                torch.nn.init.zeros_(layer.bias)
        if cfg.head == "linear":  # after --head-init, which must not redraw the identity
            freeze_pooler_to_identity(self.model)
        # What the optimizer trains: the classifier, or with --hidden-weight/--attention-weight the classifier and
        # the projection to the teacher's width, run for their states.
        self.intermediate, self.trained, self.extra = None, self.model, None
        if self.teacher is not None and (cfg.hidden_weight > 0 or cfg.attention_weight > 0):
            self.intermediate = IntermediateDistillation(self.model, self.teacher.model, cfg.model, cfg.hidden_weight,
                                                         cfg.attention_weight, cfg.seed)
            self.trained = self.intermediate.student
            projection = self.trained.projection
            self.extra = {"projection": projection} if projection is not None else None

    def open_run_dir(self) -> Path | None:
        """The run directory, held by this run alone (--restart deletes the earlier one, now that the inputs are
        valid): a new run, or the continuation of one with the same settings; returns the checkpoint to continue
        from. A run that ended before its first epoch left only its configuration (and perhaps the teacher's cache
        and the copies): it starts afresh, dropping what other settings made."""
        cfg, out, main = self.cfg, self.out, self.processes.main
        with self.run_dir.open(cfg, restart=cfg.restart, progress=lambda: bool(train_state.list_checkpoints(out)),
                               main=main, barrier=self.processes.wait) as state:
            existing = train_state.list_checkpoints(out)
            if main and state is Resume.AFRESH:
                for name in (TEACHER_CACHE, AUGMENT_FILE):
                    (out / name).unlink(missing_ok=True)
            if main and existing and self.show_progress:
                print(f"bort: continuing the fine-tuning run in {out}", flush=True)
        return existing[-1] if existing else None

    def prepare_training(self, checkpoint: Path | None) -> None:
        """The inputs trained on (the training set, then --augment's copies), the teacher's outputs on them, their
        encodings, AdamW with linear warm-up and decay over every step of every epoch, and the checkpoint's state."""
        cfg, task, out = self.cfg, self.task, self.out
        self.augment_summary = None
        inputs = list(self.train_set)
        # Neither the copies nor the teacher's outputs may draw from torch's generator (loading φ's masked LM
        # could): a run that finds them on disk must train exactly as the one that made them.
        with torch.random.fork_rng(devices=[]):
            if cfg.augment:
                copies, self.augment_summary = augmented_inputs(
                    self.train_set, cfg.augment, cfg.phi, cfg.phi_fraction, cfg.phi_model or cfg.model, cfg.seed,
                    out / AUGMENT_FILE, self.show_progress and self.processes.main)
                inputs += copies
            if cfg.unlabeled:
                inputs += self.unlabeled
            self.soft = None
            if self.teacher is not None:
                self.teacher.attach_cache(out / TEACHER_CACHE)
                self.soft = torch.from_numpy(self.teacher.outputs(inputs))
        self.train_inputs = inputs
        self.has_gold = torch.tensor([ex.label is not None for ex in inputs])
        self.labels = torch.tensor([ex.label if ex.label is not None else 0 for ex in inputs],
                                   dtype=torch.float if task.kind == "regression" else torch.long)
        self.enc_train = encode(self.tokenizer, inputs, self.max_len)
        self.enc_dev = encode(self.tokenizer, self.dev, self.max_len)
        self.steps_per_epoch = -(-len(inputs) // cfg.batch_size)
        total = self.steps_per_epoch * self.epochs
        self.optimizer, self.scheduler = build_optimizer(self.trained, self.lr, cfg.weight_decay, "linear",
                                                         max(1, round(cfg.warmup_ratio * total)), total)
        self.primary = task.metrics[0]  # the metric early stopping follows
        self.progress = {"epoch": 0, "best": -float("inf"), "best_epoch": 0, "stale": 0, "stopped": False,
                         "history": []}
        if checkpoint is not None:
            self.progress = train_state.load(checkpoint, self.model, self.optimizer, self.scheduler,
                                             rank=self.processes.rank, extra=self.extra)

    # ------------------------------------------------------------------ train
    def train(self) -> None:
        from tqdm.auto import tqdm

        cfg, progress = self.cfg, self.progress
        bar = tqdm(total=self.steps_per_epoch * self.epochs, initial=self.steps_per_epoch * progress["epoch"],
                   desc=f"fine-tuning {self.task.name}", unit="step",
                   disable=not (self.show_progress and self.processes.main),
                   dynamic_ncols=True)
        try:
            for epoch in range(progress["epoch"] + 1, self.epochs + 1):
                if progress["stopped"]:
                    break
                self.train_epoch(epoch, bar)
                # Evaluate on dev; keep the best model so far; stop after --patience epochs without progress.
                outputs = model_outputs(self.model, self.tokenizer, self.dev, self.max_len, encoded=self.enc_dev)
                metrics = score(self.task, self.dev, outputs)
                progress["history"].append({"epoch": epoch, **metrics, "seconds": time.perf_counter() - self.started})
                if metrics[self.primary] > progress["best"]:
                    progress.update(best=metrics[self.primary], best_epoch=epoch, stale=0)
                    self.save_best(outputs)
                else:
                    progress["stale"] += 1
                progress.update(epoch=epoch, stopped=progress["stale"] >= cfg.patience)
                # The epoch's checkpoint: model, optimizer, schedule, RNG and the early-stopping state.
                self.save_checkpoint(epoch)
                bar.set_postfix(**{f"dev_{self.primary}": f"{metrics[self.primary]:.3f}",
                                   "best": f"{progress['best']:.3f}"})
        finally:
            bar.close()

    def save_checkpoint(self, epoch: int) -> None:
        step = epoch * self.steps_per_epoch
        train_state.write_rank_rng(self.out, step, rank=self.processes.rank)
        self.processes.wait()  # every process's RNG state is in the folder before it is renamed into place
        if self.processes.main:
            train_state.write_main(self.out, step, self.model, self.optimizer, self.scheduler, self.progress, keep=1,
                                   extra=self.extra)
        self.processes.wait()

    def train_epoch(self, epoch: int, bar) -> None:
        cfg = self.cfg
        self.model.train()
        # The epoch's order is a function of (seed, epoch): a resumed run sees the batches an uninterrupted one does.
        order = torch.randperm(len(self.train_inputs), generator=torch.Generator().manual_seed(
            cfg.seed * 1_000_003 + epoch)).tolist()
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            # Forward: the task's loss (cross-entropy, or MSE for STS-B) on one shuffled batch.
            rows, share = self.processes.share(rows)  # this process's part of the global batch
            batch = collate(self.enc_train, rows, self.tokenizer.pad_token_id)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            loss = self.batch_loss(batch, rows) * share
            if not torch.isfinite(loss):
                raise BortError(f"the loss became {float(loss)} in epoch {epoch}; lower --lr")
            # Backward and the optimizer step: clip, update, advance the schedule.
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(self.trained.parameters(), cfg.clip)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}",
                            **({"best": f"{self.progress['best']:.3f}"} if self.progress["history"] else {}))

    def batch_loss(self, batch: dict[str, torch.Tensor], rows: list[int]) -> torch.Tensor:
        """The loss of one batch (``rows`` of the training inputs): the task's own (cross-entropy, or MSE for
        regression), or with --teacher the distillation mix of :func:`bort.finetune.distil.distillation_loss`, plus
        the intermediate terms of :mod:`bort.finetune.intermediate` when they are weighed."""
        labels = self.labels[rows].to(self.device)
        if self.soft is None:
            return self.train_model(**batch, labels=labels).loss
        if self.intermediate is None:
            logits = self.train_model(**batch).logits
        else:
            logits, states, qkv = self.train_model(**batch)
        loss = distillation_loss(logits, self.soft[rows].to(self.device), labels, self.has_gold[rows].to(self.device),
                                 self.cfg.alpha, self.cfg.temperature, self.task.kind == "regression")
        return loss if self.intermediate is None else loss + self.intermediate.loss(states, qkv, batch)

    def save_best(self, outputs: np.ndarray) -> None:
        """The best model so far as an HF directory, and its dev predictions (written by the main process)."""
        if not self.processes.main:
            return
        save_model_dir(self.model, self.tokenizer, self.out)
        pred = predictions(self.task, self.dev, outputs)
        lines = [json.dumps({"uid": ex.uid, "label": ex.label, "prediction": p, "output": o.tolist()})
                 for ex, p, o in zip(self.dev, pred, outputs)]
        write_text_atomic(self.out / "dev_predictions.jsonl", "\n".join(lines) + "\n")

    # ------------------------------------------------------------------ finish
    def finish(self) -> dict:
        progress = self.progress
        result = {
            "task": self.task.name, "best_epoch": progress["best_epoch"],
            "dev": progress["history"][progress["best_epoch"] - 1], "history": progress["history"],
            "majority_baseline": majority_baseline(self.task, self.train_set, self.dev),
            "train_examples": len(self.train_set), "dev_examples": len(self.dev),
            "lr": self.lr, "epochs": self.epochs, "lr_and_epochs": self.hyper_source,
            **({"more_epochs": hint} if (hint := more_epochs_hint(progress["best_epoch"], len(progress["history"]),
                                                                 self.epochs)) else {}),
            **({"teacher": self.cfg.teacher, "alpha": self.cfg.alpha, "temperature": self.cfg.temperature}
               if self.cfg.teacher else {}),
            **({"intermediate": self.intermediate.describe()} if self.intermediate else {}),
            **({"augmented": self.augment_summary} if self.augment_summary else {}),
            **({"unlabeled": len(self.unlabeled)} if self.unlabeled else {}),
            "seconds": time.perf_counter() - self.started,
        }
        predicts_test = self.test_set and self.processes.main
        best = load_classifier(self.out) if self.holdout_set or predicts_test else None  # the selected model, once
        if self.holdout_set:
            result.update(describe(self.cfg.holdout_share, self.cfg.holdout, self.dev, self.holdout_set))
            outputs = model_outputs(best, self.tokenizer, self.holdout_set, self.max_len)
            result["held_out_metrics"] = score(self.task, self.holdout_set, outputs)
            result["held_out_majority_baseline"] = majority_baseline(self.task, self.train_set, self.holdout_set)
        else:
            result["selected_on"] = (f"the {len(self.dev)} dev examples early stopping read (not a held-out score; "
                                     "--holdout-fraction gives one)")
        if predicts_test:
            outputs = model_outputs(best, self.tokenizer, self.test_set, self.max_len)
            result.update(write_test_predictions(self.task, self.test_set, outputs, self.out))
        if self.processes.main:
            write_json_atomic(self.out / "metrics.json", result)
            finetuning_card(self.out, self.cfg, self.task, result)  # README.md: metrics, training, command
        self.processes.wait()
        return result
