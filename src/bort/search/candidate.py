"""One candidate of the FPTAS: a fresh model, s SGD steps against the cached teacher, ê held out."""

from __future__ import annotations

import time
import zlib

import torch

from bort.architecture import Arch
from bort.distill.losses import soft_cross_entropy
from bort.mlm.head import MaskedPositionsLM
from bort.search.sgd import held_out_loss, sgd_steps
from bort.search.teacher_cache import CachedBatch


def candidate_seed(seed: int, arch: Arch) -> int:
    """A seed per architecture, the same whichever worker trains it and whenever."""
    return (seed * 1_000_003 + zlib.crc32(str(arch.as_list()).encode())) % 2**31


def _logits(model, batch: CachedBatch) -> torch.Tensor:
    return model(batch.input_ids, batch.attention_mask, batch.positions)


def train_and_score(arch: Arch, student_config, train: list[CachedBatch], val: list[CachedBatch], steps: int, lr: float,
                    clip: float, warmup_steps: int, temperature: float, seed: int, threads: int | None = None,
                    initial_state: dict[str, torch.Tensor] | None = None) -> dict:
    """Train ``arch`` for ``steps`` SGD steps on the fixed batches (cycling), then return ê, the soft
    cross-entropy with the teacher on the held-out batches. It starts from random weights, or from
    ``initial_state`` (its weights extracted from the teacher). ``threads``: torch's intra-op threads while it
    trains, restored after (the search may run in the caller's process)."""
    from bort.measure.latency import torch_threads

    with torch_threads(threads or None):
        return _train_and_score(arch, student_config, train, val, steps, lr, clip, warmup_steps, temperature, seed,
                                initial_state)


def _train_and_score(arch: Arch, student_config, train: list[CachedBatch], val: list[CachedBatch], steps: int,
                     lr: float, clip: float, warmup_steps: int, temperature: float, seed: int,
                     initial_state: dict[str, torch.Tensor] | None) -> dict:
    from transformers import AutoModelForMaskedLM

    started = time.perf_counter()
    torch.manual_seed(candidate_seed(seed, arch))
    lm = AutoModelForMaskedLM.from_config(student_config)
    if initial_state is not None:
        lm.load_state_dict(initial_state, strict=True)
    model = MaskedPositionsLM(lm)

    def soft_ce(batch: CachedBatch) -> torch.Tensor:
        return soft_cross_entropy(_logits(model, batch), torch.from_numpy(batch.teacher_logits.astype("float32")),
                                  temperature)

    losses = sgd_steps(model, lambda step: soft_ce(train[step % len(train)]), steps, lr, clip, warmup_steps)
    e_hat = held_out_loss(model, lambda: ((soft_ce(batch), int(batch.positions.sum())) for batch in val))
    return {"e_hat": e_hat, "train_losses": losses, "train_seconds": time.perf_counter() - started}
