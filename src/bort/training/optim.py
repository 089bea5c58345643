"""AdamW without decay on biases and LayerNorms, and the learning-rate schedules."""

from __future__ import annotations

import math

import torch


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: matrices decay; biases and LayerNorm weights (all 1-D parameters) do not."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, schedule: str, warmup: int, max_steps: int) -> float:
    """The multiplier of the peak learning rate after ``step`` optimizer steps.

    noam: linear warm-up to 1 at ``warmup``, then inverse square root, sqrt(warmup / step);
    linear: linear warm-up, then linear decay to 0 at ``max_steps``; constant: warm-up, then 1.
    """
    step = max(step, 1)
    if step < warmup:
        return step / warmup
    if schedule == "noam":
        return math.sqrt(warmup / step)
    if schedule == "linear":
        return max(0.0, (max_steps - step) / max(1, max_steps - warmup))
    return 1.0


def build_optimizer(model, lr: float, weight_decay: float, schedule: str, warmup: int, max_steps: int):
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=(0.9, 0.98), eps=1e-6)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s + 1, schedule, warmup, max_steps))
    return optimizer, scheduler
