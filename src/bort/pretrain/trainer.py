"""The pre-training recipe: KD or MLM, on one process or many (Accelerate / torchrun DDP), resumable.

Read it top to bottom: :meth:`Pretraining.setup` (run directory, tokenizer, teacher, student, data,
optimiser, what a resumed run restores), :meth:`Pretraining.train` (the steps), :meth:`Pretraining.finish`
(the held-out evaluation, the Hugging Face checkpoint, ``curves.png``).

Which rows form step s's batch, and which tokens are masked in it, are pure functions of
(seed, step): a resumed run, and a run over N processes, see exactly the batches a single
uninterrupted run sees. Each process takes its contiguous slice of every global batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from bort.checkpoint import check_model_dir, check_weights, load_masked_lm, save_model_dir
from bort.errors import BortError
from bort.extract.selection import carry_selection
from bort.mlm.corpus import resolve_corpus
from bort.mlm.dataset import TOKEN_CACHE, build_splits
from bort.mlm.evaluation import MaskedEvalSet
from bort.mlm.head import MaskedPositionsLM
from bort.mlm.losses import loss_positions, training_loss
from bort.mlm.masking import mask_batch
from bort.pretrain.card import pretraining_card
from bort.pretrain.config import PretrainConfig
from bort.pretrain.curves import plot_curves
from bort.pretrain.setup import (build_student, build_student_config, check_compatible, choose_tokenizer,
                                 intermediate_terms)
from bort.training import train_state
from bort.training.optim import build_optimizer
from bort.util.io import append_log, read_log, write_json_atomic, write_text_atomic
from bort.util.run_dir import Resume, RunDirectory

CONFIG_FILE = "pretrain_config.json"


def batch_rows(step: int, n_rows: int, batch_size: int, seed: int) -> np.ndarray:
    """Row indices of the global batch of (1-based) ``step``: a fresh seeded permutation per epoch."""
    per_epoch = n_rows // batch_size
    epoch, index = divmod(step - 1, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n_rows)
    return order[index * batch_size:(index + 1) * batch_size]


def step_generator(seed: int, step: int) -> torch.Generator:
    """The masking RNG of one step, independent of every other step."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def pretrain(cfg: PretrainConfig, show_progress: bool = True) -> dict:
    """Run a pre-training run, or continue the one in ``cfg.out`` (the same configuration); returns the final
    metrics."""
    run = Pretraining(cfg, show_progress)
    try:
        run.setup()
        run.train()
        return run.finish()
    finally:
        run.run_dir.release()


def resume_differences(saved: PretrainConfig, cfg: PretrainConfig) -> list[str]:
    """What a continued run may not change (:meth:`RunDirectory.resume` compares with it): every setting that
    shapes the run's results. A longer --max-steps is allowed when the schedule does not depend on it (noam,
    constant): the steps already taken are exactly those the longer run would have taken."""
    changed = saved.differences(cfg)
    if changed == ["max_steps"] and cfg.schedule != "linear" and cfg.max_steps > saved.max_steps:
        return []
    return changed


class Pretraining:
    def __init__(self, cfg: PretrainConfig, show_progress: bool = True):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.show_progress = show_progress
        self.run_dir = RunDirectory(self.out, config_file=CONFIG_FILE)  # checked now; claimed once the inputs are

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        cfg, out = self.cfg, self.out
        # cpu=True where there is no GPU: Accelerate then runs several processes on gloo (MULTI_CPU).
        self.accelerator = accelerator = Accelerator(mixed_precision="bf16" if cfg.precision == "bf16" else "no",
                                                     cpu=not torch.cuda.is_available())
        self.rank, self.world = accelerator.process_index, accelerator.num_processes

        # Inputs first, before anything is written: the output location, the models.
        self.run_dir.check({"--init": cfg.init, "--teacher": cfg.teacher, "--tokenizer": cfg.tokenizer})
        if cfg.init:
            check_weights(check_model_dir(cfg.init))
        if cfg.batch_size % (self.world * cfg.grad_accum):
            raise BortError(f"--batch-size {cfg.batch_size} must be divisible by processes × --grad-accum "
                            f"({self.world} × {cfg.grad_accum})")
        set_seed(cfg.seed)

        # Tokenizer, teacher and student, checked against each other.
        self.tokenizer = choose_tokenizer(cfg)
        self.teacher = load_masked_lm(cfg.teacher) if cfg.mode == "kd" else None
        teacher_cfg = self.teacher.config if self.teacher is not None else None
        student_cfg = build_student_config(cfg, teacher_cfg, self.tokenizer)
        check_compatible(cfg, self.tokenizer, student_cfg, teacher_cfg)
        corpus = resolve_corpus(cfg.corpus, cfg.text_field)

        # The run directory, held by this run alone (--restart deletes the earlier one, now that the inputs are
        # valid): a new run, or the continuation of one with the same configuration (a longer --max-steps is allowed
        # where the schedule does not depend on it); if the rest of the setup fails, what it wrote is removed.
        with self.run_dir.open(cfg, restart=cfg.restart, progress=lambda: bool(train_state.list_checkpoints(out)),
                               differences=resume_differences, main=accelerator.is_main_process,
                               barrier=accelerator.wait_for_everyone) as resume:
            self._setup_run(resume, student_cfg, corpus)

    def _setup_run(self, resume: Resume, student_cfg, corpus) -> None:
        cfg, out, accelerator = self.cfg, self.out, self.accelerator
        # A run with no checkpoint yet starts from step 0.
        existing = train_state.list_checkpoints(out)
        if existing and accelerator.is_main_process:
            step = train_state.step_of(existing[-1])
            print(f"bort: {out} already ran its {step} steps; evaluating and saving it again"
                  if step >= cfg.max_steps else f"bort: continuing the run in {out} from step {step}", flush=True)
        elif resume is not Resume.NEW and accelerator.is_main_process:
            print(f"bort: {out} has no checkpoint yet; the run starts from step 0", flush=True)

        # Data: tokenized once (cached), split by document, packed into sequences.
        cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / TOKEN_CACHE
        with accelerator.main_process_first():  # one process tokenizes, the others read its cache
            self.train_split, self.val_split = build_splits(corpus, self.tokenizer, cfg.seq_len, cache_dir,
                                                            cfg.val_fraction, cfg.seed, cfg.doc_words)
        if len(self.train_split) < cfg.batch_size:
            raise BortError(f"the corpus is too small: {len(self.train_split)} training sequences of {cfg.seq_len} "
                            f"tokens, fewer than one batch of {cfg.batch_size}")
        if len(self.val_split) == 0:
            raise BortError("the validation split is empty: give a larger corpus or a larger --val-fraction")

        # Model and optimiser; a resumed run restores weights, optimizer, scheduler, step and RNG.
        self.student = build_student(cfg, student_cfg)
        # Intermediate distillation (optional): the layer map, and a projection trained with the student.
        teacher_cfg = self.teacher.config if self.teacher is not None else None
        self.intermediate, projection = intermediate_terms(cfg, student_cfg, teacher_cfg)
        self.extra = {"projection": projection} if projection is not None else {}
        wrapper = MaskedPositionsLM(self.student, projection)
        self.optimizer, self.scheduler = build_optimizer(wrapper, cfg.lr, cfg.weight_decay, cfg.schedule,
                                                         cfg.warmup_steps, cfg.max_steps)
        self.start_step, self.last_checkpoint = 0, None
        if existing:
            state = train_state.load(existing[-1], self.student, self.optimizer, self.scheduler, self.rank, self.extra)
            self.start_step, self.last_checkpoint = state["step"], existing[-1]
        self.log = _MetricsLog(out / "metrics.jsonl", self.start_step if existing else None) \
            if accelerator.is_main_process else None

        self.model, self.optimizer = accelerator.prepare(wrapper, self.optimizer)
        if self.teacher is not None:
            self.teacher.to(accelerator.device)
        # The main process evaluates alone, on the same batches whatever the process count.
        self.eval_set = MaskedEvalSet(self.val_split, cfg.batch_size, cfg.val_batches, self.tokenizer, cfg.mask_prob,
                                      cfg.seed)
        self.baseline = self.eval_set.most_frequent_baseline(self.train_split, self.tokenizer.all_special_ids)

    # ------------------------------------------------------------------ train
    def train(self) -> None:
        from tqdm.auto import tqdm

        cfg, accelerator = self.cfg, self.accelerator
        self.last_step = min(cfg.max_steps, self.start_step + cfg.stop_after) if cfg.stop_after else cfg.max_steps
        self.out_of_time = False
        bar = tqdm(total=cfg.max_steps, initial=self.start_step, desc=f"{cfg.mode} pretraining", unit="step",
                   disable=not (self.show_progress and accelerator.is_main_process), dynamic_ncols=True)
        self.window_tokens, self.window_start = 0, time.perf_counter()
        self.run_start = time.perf_counter() - (self.log.wall_offset if self.log else 0.0)
        self.last_val: dict = {}
        self.model.train()
        try:
            for step in range(self.start_step + 1, self.last_step + 1):
                totals = self.step(step)
                record = self.record(step, totals)
                bar.set_postfix(loss=f"{record['loss']:.3f}", **self.last_val)
                bar.update(1)

                # Checkpoint every --save-every steps, at the last step, and when the time budget is spent.
                elapsed = time.perf_counter() - self.run_start
                self.out_of_time = cfg.max_minutes is not None and _agreed(accelerator, elapsed > 60 * cfg.max_minutes)
                if step % cfg.save_every == 0 or step == self.last_step or self.out_of_time:
                    self.last_checkpoint = self.save_checkpoint(step)
                if self.out_of_time:
                    self.last_step = step
                    break
        finally:
            bar.close()  # ends the bar's line, so that an error message starts on its own

    def step(self, step: int) -> torch.Tensor:
        """One optimizer step on global batch ``step``; returns the summed
        [loss, mlm, kd, correct, count, tokens, hidden, attention]."""
        cfg = self.cfg
        # The global batch and its masks: pure functions of (seed, step).
        batch = self.train_split.batch(batch_rows(step, len(self.train_split), cfg.batch_size, cfg.seed))
        ids, labels = mask_batch(batch, self.tokenizer, step_generator(cfg.seed, step), cfg.mask_prob)
        denominators = tuple(int(p.sum()) for p in loss_positions(labels, batch["attention_mask"],
                                                                   self.teacher is not None, cfg.kd_all_positions))
        denominators += (int(batch["attention_mask"].sum()),)  # real tokens: the intermediate terms' positions
        # This process's slice of it.
        mine = slice(self.rank * cfg.batch_size // self.world, (self.rank + 1) * cfg.batch_size // self.world)
        ids, labels, attention = ids[mine], labels[mine], batch["attention_mask"][mine]

        # Forward and backward: the KD and MLM losses (α·MLM + β·τ²·KL), gradients synchronised across processes.
        totals = self.forward_backward(ids, labels, attention, denominators)
        loss = float(totals[0])
        if not math.isfinite(loss):
            where = (f"the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint
                     else "no checkpoint was written yet")
            raise BortError(f"the loss became {loss} at step {step}; {where}")

        # The optimizer step: clip, update, advance the schedule.
        if cfg.clip > 0:
            self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return totals

    def forward_backward(self, ids, labels, attention, denominators: tuple[int, int, int]) -> torch.Tensor:
        """Gradients of this process's slice of one global batch, in ``--grad-accum`` micro-batches.

        Every micro-batch's loss is a sum over its positions divided by the global batch's position
        counts (``denominators``), times the process count because DDP averages the processes'
        gradients: the gradient is then the global batch's mean-loss gradient whatever the number of
        processes and micro-batches. Returns [loss, mlm, kd, correct, count, tokens, hidden, attention]
        summed over the micro-batches and processes (the losses are then the global batch's means).
        """
        cfg, accelerator = self.cfg, self.accelerator
        micro = len(ids) // cfg.grad_accum
        sums = torch.zeros(8, dtype=torch.float64)
        for k in range(cfg.grad_accum):
            part = slice(k * micro, (k + 1) * micro)
            batch = {"input_ids": ids[part].to(accelerator.device),
                     "attention_mask": attention[part].to(accelerator.device)}
            # Gradients are synchronised across processes once per optimizer step, on the last micro-batch.
            sync = accelerator.no_sync(self.model) if k < cfg.grad_accum - 1 else contextlib.nullcontext()
            with sync, accelerator.autocast():
                parts = training_loss(self.model, batch, labels[part].to(accelerator.device), self.teacher, cfg.alpha,
                                      cfg.beta, cfg.temperature, cfg.kd_all_positions, denominators,
                                      self.intermediate)
                accelerator.backward(parts.total * self.world)
            kd, hidden, relation = (float(t.detach()) if t is not None else 0.0
                                    for t in (parts.kd, parts.hidden, parts.attention))
            sums += torch.tensor([float(parts.total.detach()), float(parts.mlm.detach()), kd, parts.correct,
                                  parts.count, float(attention[part].sum()), hidden, relation], dtype=torch.float64)
        return accelerator.reduce(sums.to(accelerator.device), "sum")

    def record(self, step: int, totals: torch.Tensor) -> dict:
        """The step's metrics; every --log-every steps also throughput, and every --eval-every the held-out MLM."""
        cfg = self.cfg
        loss, mlm, kd = (float(totals[i]) for i in range(3))
        self.window_tokens += int(totals[5])
        record = {"step": step, "loss": loss, "mlm_loss": mlm, "lr": self.scheduler.get_last_lr()[0],
                  "train_mlm_accuracy": float(totals[3]) / max(float(totals[4]), 1.0)}
        if self.teacher is not None:
            record["kd_loss"] = kd
        if self.cfg.hidden_weight > 0:
            record["hidden_loss"] = float(totals[6])
        if self.cfg.attention_weight > 0:
            record["attention_loss"] = float(totals[7])
        if step % cfg.log_every == 0 or step == self.last_step or step % cfg.eval_every == 0:
            elapsed = time.perf_counter() - self.window_start
            record["tokens_per_s"] = self.window_tokens / elapsed if elapsed > 0 else 0.0
            record["wall_s"] = time.perf_counter() - self.run_start
            self.window_tokens, self.window_start = 0, time.perf_counter()
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                if self.accelerator.is_main_process:
                    record.update(self.eval_set.evaluate(self.student, self.accelerator.device))
                    self.last_val = {"val_acc": f"{record['val_mlm_accuracy']:.3f}"}
                self.accelerator.wait_for_everyone()
            if self.log:
                self.log.write(record)
        return record

    def save_checkpoint(self, step: int) -> Path:
        """Every process saves its RNG state; the main process the weights, optimizer and scheduler."""
        accelerator = self.accelerator
        train_state.write_rank_rng(self.out, step, accelerator.process_index)
        accelerator.wait_for_everyone()
        path = train_state.checkpoint_dir(self.out, step)
        if accelerator.is_main_process:
            path = train_state.write_main(self.out, step, self.student, self.optimizer, self.scheduler, {},
                                          self.cfg.keep_checkpoints, self.extra)
        accelerator.wait_for_everyone()
        return path

    # ------------------------------------------------------------------ finish
    def finish(self) -> dict:
        """A finished run (all steps, or its time budget) is evaluated and saved as a Hugging Face directory."""
        finished = self.last_step == self.cfg.max_steps or self.out_of_time
        final = {"step": self.last_step, "finished": finished, "out_of_time": self.out_of_time,
                 "baseline_most_frequent": self.baseline}
        if finished and self.accelerator.is_main_process:
            final.update(self.eval_set.evaluate(self.student, self.accelerator.device))
            final["train_sequences"], final["val_sequences"] = len(self.train_split), len(self.val_split)
            final["train_tokens"] = self.train_split.n_tokens
            save_model_dir(self.student, self.tokenizer, self.out)
            carry_selection(self.cfg.init, self.out)  # an extracted student's layer map, for task distillation
            write_json_atomic(self.out / "final_metrics.json", final)
            plot_curves({self.cfg.mode: self.out}, self.out / "curves.png", baseline=self.baseline["accuracy"])
            pretraining_card(self.out, self.cfg, final)  # README.md: shape, parameters, training, command
        self.accelerator.wait_for_everyone()
        return final


class _MetricsLog:
    """metrics.jsonl, one durable line per log step; trimmed to the checkpoint's step when a run continues."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        kept = [r for r in read_log(path) if r["step"] <= resume_step] if resume_step is not None else []
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
        self.wall_offset = max((r.get("wall_s", 0.0) for r in kept), default=0.0)

    def write(self, record: dict) -> None:
        append_log(self.path, record)


def _agreed(accelerator, flag: bool) -> bool:
    """True on every process when it is true on any (processes must stop at the same step)."""
    if accelerator.num_processes == 1:
        return flag
    return bool(accelerator.reduce(torch.tensor([float(flag)], device=accelerator.device), "sum") > 0)
