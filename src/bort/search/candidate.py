"""One candidate of the FPTAS: a fresh model, s SGD steps against the cached teacher, ê held out."""

from __future__ import annotations

import time
import zlib

import torch

from bort.architecture import Arch
from bort.mlm.head import MaskedPositionsLM
from bort.mlm.losses import soft_cross_entropy
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
    model = MaskedPositionsLM(lm).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        batch = train[step % len(train)]
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr
        loss = soft_cross_entropy(_logits(model, batch), torch.from_numpy(batch.teacher_logits.astype("float32")),
                                  temperature)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in val:
            n = int(batch.positions.sum())
            ce = soft_cross_entropy(_logits(model, batch), torch.from_numpy(batch.teacher_logits.astype("float32")),
                                    temperature)
            total += float(ce) * n
            count += n
    return {"e_hat": total / count, "train_losses": losses, "train_seconds": time.perf_counter() - started}
