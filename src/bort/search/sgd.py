"""The s steps every search candidate takes (on the corpus or on the task): plain SGD with a linear warm-up and
gradient clipping, on fixed batches, then its loss held out. One loop, so that the two surrogates differ only in
the model and the loss they train."""

from __future__ import annotations

from typing import Callable, Iterable

import torch


def sgd_steps(model: torch.nn.Module, loss_at: Callable[[int], torch.Tensor], steps: int, lr: float, clip: float,
              warmup_steps: int) -> list[float]:
    """``steps`` steps of p ← p − lr_t·∇loss_at(t), lr_t = lr·min(1, (t + 1)/warmup_steps) (lr without warm-up),
    the gradient's norm clipped at ``clip`` (0: not clipped). ``model`` is left in train mode; returns each step's
    loss."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr
        loss = loss_at(step)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return losses


def held_out_loss(model: torch.nn.Module, losses_and_counts: Callable[[], Iterable[tuple[torch.Tensor, int]]]) -> float:
    """ê: the mean of per-batch mean losses weighed by their counts (positions or examples), in eval mode and
    without gradients. ``losses_and_counts`` yields (a batch's mean loss, how many it averaged)."""
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for loss, n in losses_and_counts():
            total += float(loss) * n
            count += n
    return total / count
