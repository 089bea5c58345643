"""The pre-training loop: KD or MLM, on one process or many (Accelerate / torchrun DDP), resumable.

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

from bort.checkpoint import save_model_dir
from bort.errors import BortError
from bort.pretrain import checkpoints
from bort.pretrain.config import PretrainConfig
from bort.pretrain.corpus import resolve_corpus
from bort.pretrain.dataset import build_splits
from bort.pretrain.evaluation import MaskedEvalSet
from bort.pretrain.losses import MaskedPositionsLM, loss_positions, training_loss
from bort.pretrain.masking import mask_batch
from bort.pretrain.optim import build_optimizer
from bort.pretrain.setup import build_student, build_student_config, check_compatible, choose_tokenizer, load_teacher
from bort.util.io import append_jsonl, read_jsonl, write_json_atomic, write_text_atomic


def batch_rows(step: int, n_rows: int, batch_size: int, seed: int) -> np.ndarray:
    """Row indices of the global batch of (1-based) ``step``: a fresh seeded permutation per epoch."""
    per_epoch = n_rows // batch_size
    epoch, index = divmod(step - 1, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n_rows)
    return order[index * batch_size:(index + 1) * batch_size]


def step_generator(seed: int, step: int) -> torch.Generator:
    """The masking RNG of one step, independent of every other step."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class _Metrics:
    """metrics.jsonl, one durable line per log step; trimmed to the resumed step on resume."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        kept = [r for r in read_jsonl(path) if r["step"] <= resume_step] if resume_step is not None else []
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
        self.wall_offset = max((r.get("wall_s", 0.0) for r in kept), default=0.0)

    def write(self, record: dict) -> None:
        append_jsonl(self.path, record)


def pretrain(cfg: PretrainConfig, resume: bool = False, show_progress: bool = True) -> dict:
    """Run (or resume) a pre-training run; returns the final metrics. Writes an HF checkpoint to ``cfg.out``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    # cpu=True where there is no GPU: Accelerate then runs several processes on gloo (MULTI_CPU).
    accelerator = Accelerator(mixed_precision="bf16" if cfg.precision == "bf16" else "no",
                              cpu=not torch.cuda.is_available())
    rank, world = accelerator.process_index, accelerator.num_processes
    out = Path(cfg.out)
    existing = checkpoints.list_checkpoints(out)
    if existing and not resume:
        raise BortError(f"run directory {out} already holds checkpoints; pass --resume to continue it, or choose another --out")
    if resume and (out / "pretrain_config.json").is_file():
        saved = PretrainConfig.from_dict(json.loads((out / "pretrain_config.json").read_text()))
        changed = saved.differences(cfg)
        if changed:
            raise BortError(f"cannot resume {out}: the run's configuration changed in {changed}; "
                            f"{out / 'pretrain_config.json'} holds the original")
    if cfg.batch_size % (world * cfg.grad_accum):
        raise BortError(f"--batch-size {cfg.batch_size} must be divisible by processes × --grad-accum "
                        f"({world} × {cfg.grad_accum})")
    set_seed(cfg.seed)

    tokenizer = choose_tokenizer(cfg)
    teacher = load_teacher(cfg.teacher) if cfg.mode == "kd" else None
    teacher_cfg = teacher.config if teacher is not None else None
    student_cfg = build_student_config(cfg, teacher_cfg, tokenizer)
    check_compatible(cfg, tokenizer, student_cfg, teacher_cfg)

    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / "cache"
    with accelerator.main_process_first():  # one process tokenizes, the others read its cache
        files = resolve_corpus(cfg.corpus)
        train, val = build_splits(files, tokenizer, cfg.seq_len, cache_dir, cfg.val_fraction, cfg.seed, cfg.doc_words)
    if len(train) < cfg.batch_size:
        raise BortError(f"the corpus is too small: {len(train)} training sequences of {cfg.seq_len} tokens, "
                        f"fewer than one batch of {cfg.batch_size}")
    if len(val) == 0:
        raise BortError("the validation split is empty: give a larger corpus or a larger --val-fraction")

    student = build_student(student_cfg, cfg.seed)
    optimizer, scheduler = build_optimizer(student, cfg.lr, cfg.weight_decay, cfg.schedule, cfg.warmup_steps, cfg.max_steps)
    start_step = 0
    if resume and existing:
        state = checkpoints.load(existing[-1], student, optimizer, scheduler, rank)
        start_step = state["step"]
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "pretrain_config.json")
    metrics_log = _Metrics(out / "metrics.jsonl", start_step if resume else None) if accelerator.is_main_process else None

    model, optimizer = accelerator.prepare(MaskedPositionsLM(student), optimizer)
    if teacher is not None:
        teacher.to(accelerator.device)
    # The main process evaluates alone, on the same batches whatever the process count.
    eval_set = MaskedEvalSet(val, cfg.batch_size, cfg.val_batches, tokenizer, cfg.mask_prob, cfg.seed)
    baseline = eval_set.most_frequent_baseline(train, tokenizer.all_special_ids)

    last_step = min(cfg.max_steps, start_step + cfg.stop_after) if cfg.stop_after else cfg.max_steps
    bar = tqdm(total=cfg.max_steps, initial=start_step, desc=f"{cfg.mode} pretraining", unit="step",
               disable=not (show_progress and accelerator.is_main_process), dynamic_ncols=True)
    last_checkpoint = existing[-1] if (resume and existing) else None
    window_tokens, window_start = 0, time.perf_counter()
    run_start = time.perf_counter() - (metrics_log.wall_offset if metrics_log else 0.0)
    model.train()
    last_val: dict = {}
    out_of_time = False
    try:
        for step in range(start_step + 1, last_step + 1):
            rows = batch_rows(step, len(train), cfg.batch_size, cfg.seed)
            batch = train.batch(rows)
            ids, labels = mask_batch(batch, tokenizer, step_generator(cfg.seed, step), cfg.mask_prob)
            denominators = tuple(int(p.sum()) for p in loss_positions(labels, batch["attention_mask"], teacher is not None,
                                                                       cfg.kd_all_positions))
            mine = slice(rank * cfg.batch_size // world, (rank + 1) * cfg.batch_size // world)
            ids, labels, attention = ids[mine], labels[mine], batch["attention_mask"][mine]

            totals = _forward_backward(model, ids, labels, attention, teacher, cfg, accelerator, denominators)
            loss, mlm, kd = (float(totals[i]) for i in range(3))
            if not math.isfinite(loss):
                where = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was written yet"
                raise BortError(f"the loss became {loss} at step {step}; {where}")
            if cfg.clip > 0:
                accelerator.clip_grad_norm_(model.parameters(), cfg.clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            window_tokens += int(totals[5])
            record = {"step": step, "loss": loss, "mlm_loss": mlm, "lr": scheduler.get_last_lr()[0],
                      "train_mlm_accuracy": float(totals[3]) / max(float(totals[4]), 1.0)}
            if teacher is not None:
                record["kd_loss"] = kd
            if step % cfg.log_every == 0 or step == last_step or step % cfg.eval_every == 0:
                elapsed = time.perf_counter() - window_start
                record["tokens_per_s"] = window_tokens / elapsed if elapsed > 0 else 0.0
                record["wall_s"] = time.perf_counter() - run_start
                window_tokens, window_start = 0, time.perf_counter()
                if step % cfg.eval_every == 0 or step == cfg.max_steps:
                    if accelerator.is_main_process:
                        record.update(eval_set.evaluate(student, accelerator.device))
                        last_val = {"val_acc": f"{record['val_mlm_accuracy']:.3f}"}
                    accelerator.wait_for_everyone()
                if metrics_log:
                    metrics_log.write(record)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{record['tokens_per_s']:.0f}",
                                        **last_val)
            bar.update(1)
            out_of_time = cfg.max_minutes is not None and _agreed(accelerator, time.perf_counter() - run_start > 60 * cfg.max_minutes)
            if step % cfg.save_every == 0 or step == last_step or out_of_time:
                last_checkpoint = _save_checkpoint(accelerator, out, step, student, optimizer, scheduler, cfg.keep_checkpoints)
            if out_of_time:
                last_step = step
                break
    finally:
        bar.close()  # ends the bar's line, so that an error message starts on its own

    finished = last_step == cfg.max_steps or out_of_time
    final = {"step": last_step, "finished": finished, "out_of_time": out_of_time, "baseline_most_frequent": baseline}
    if finished and accelerator.is_main_process:
        final.update(eval_set.evaluate(student, accelerator.device))
        final["train_sequences"], final["val_sequences"] = len(train), len(val)
        final["train_tokens"] = train.n_tokens
        _save_final(student, tokenizer, out, final)
    accelerator.wait_for_everyone()
    return final


def _forward_backward(model, ids, labels, attention, teacher, cfg: PretrainConfig, accelerator,
                      denominators: tuple[int, int]) -> torch.Tensor:
    """Gradients of this process's slice of one global batch, in ``cfg.grad_accum`` micro-batches.

    Every micro-batch's loss is a sum over its positions divided by the global batch's position
    counts (``denominators``), times the process count because DDP averages the processes'
    gradients: the gradient is then the global batch's mean-loss gradient whatever the number of
    processes and micro-batches. Returns [loss, mlm, kd, correct, count, tokens] summed over the
    micro-batches and processes (the losses are then the global batch's means).
    """
    world = accelerator.num_processes
    micro = len(ids) // cfg.grad_accum
    sums = torch.zeros(6, dtype=torch.float64)
    for k in range(cfg.grad_accum):
        part = slice(k * micro, (k + 1) * micro)
        batch = {"input_ids": ids[part].to(accelerator.device), "attention_mask": attention[part].to(accelerator.device)}
        # Gradients are synchronised across processes once per optimizer step, on the last micro-batch.
        sync = accelerator.no_sync(model) if k < cfg.grad_accum - 1 else contextlib.nullcontext()
        with sync, accelerator.autocast():
            parts = training_loss(model, batch, labels[part].to(accelerator.device), teacher, cfg.alpha, cfg.beta,
                                  cfg.temperature, cfg.kd_all_positions, denominators)
            accelerator.backward(parts.total * world)
        kd = float(parts.kd.detach()) if parts.kd is not None else 0.0
        sums += torch.tensor([float(parts.total.detach()), float(parts.mlm.detach()), kd, parts.correct, parts.count,
                              float(attention[part].sum())], dtype=torch.float64)
    return accelerator.reduce(sums.to(accelerator.device), "sum")


def _agreed(accelerator, flag: bool) -> bool:
    """True on every process when it is true on any (processes must stop at the same step)."""
    if accelerator.num_processes == 1:
        return flag
    return bool(accelerator.reduce(torch.tensor([float(flag)], device=accelerator.device), "sum") > 0)


def _save_checkpoint(accelerator, out: Path, step: int, model, optimizer, scheduler, keep: int) -> Path:
    checkpoints.write_rank_rng(out, step, accelerator.process_index)
    accelerator.wait_for_everyone()
    path = checkpoints.checkpoint_dir(out, step)
    if accelerator.is_main_process:
        path = checkpoints.write_main(out, step, model, optimizer, scheduler, {}, keep)
    accelerator.wait_for_everyone()
    return path


def _save_final(model, tokenizer, out: Path, final: dict) -> None:
    """The run's result as a Hugging Face directory (config, safetensors weights, tokenizer) and its metrics."""
    save_model_dir(model, tokenizer, out)
    write_json_atomic(out / "final_metrics.json", final)
