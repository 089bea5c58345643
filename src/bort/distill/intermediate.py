"""Intermediate distillation losses: hidden states (TinyBERT, Minitron) and self-attention relations (MiniLMv2).

Both compare a student layer with the teacher layer mapped to it: for a student from ``bort extract``,
the teacher layer it was cut from; otherwise layer j of D ↔ teacher layer ⌈(j+1)·D_T/D⌉ − 1 (the last
with the last): :mod:`bort.distill.layer_map`. Positions are the real (non-padding) tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class IntermediateTerms:
    """What intermediate distillation adds to the loss: γ·hidden-state MSE + δ·attention relations."""

    hidden_weight: float
    attention_weight: float
    layer_map: list[int]  # the teacher layer of each student layer
    relation_heads: int

    @property
    def active(self) -> bool:
        return self.hidden_weight > 0 or self.attention_weight > 0


def hidden_state_loss(student_states: tuple[torch.Tensor, ...], teacher_states: tuple[torch.Tensor, ...],
                      layer_map: list[int], real: torch.Tensor, denominator: int | None = None) -> torch.Tensor:
    """Σ over mapped layers of the squared error per channel (mean over the teacher's channels), summed over
    real tokens and divided by ``denominator`` (default: their number) and the number of layers.

    ``*_states``: HF ``hidden_states`` tuples (embeddings first), each (B, S, H_T) — the student's already
    projected to the teacher's width (:class:`bort.distill.layer_map.HiddenProjection`); ``real`` (B, S) bool.
    """
    if student_states[0].shape[-1] != teacher_states[0].shape[-1]:
        raise ValueError(f"hidden widths differ ({student_states[0].shape[-1]} vs {teacher_states[0].shape[-1]}): "
                         "project the student's states first")
    total = 0.0
    for j, t in enumerate(layer_map):
        student = student_states[j + 1][real].float()
        total = total + F.mse_loss(student, teacher_states[t + 1][real].float(), reduction="none").mean(-1).sum()
    return total / (denominator if denominator is not None else max(int(real.sum()), 1)) / len(layer_map)


def relation_heads(student_heads: int, teacher_heads: int) -> int:
    """Relation heads both widths split into evenly: gcd(A, A_T) (each divides its own width)."""
    return math.gcd(student_heads, teacher_heads)


def _relations(x: torch.Tensor, heads: int, key_mask: torch.Tensor) -> torch.Tensor:
    """log softmax(x_r x_rᵀ / √d_r) per relation head r: (B, S, W) → (B, R, S, S), padded keys excluded."""
    b, s, width = x.shape
    split = x.float().view(b, s, heads, width // heads).transpose(1, 2)
    scores = split @ split.transpose(-1, -2) / math.sqrt(width // heads)
    scores = scores.masked_fill(~key_mask[:, None, None, :], torch.finfo(scores.dtype).min)
    return F.log_softmax(scores, dim=-1)


def attention_relation_loss(student_qkv: tuple[torch.Tensor, ...], teacher_qkv: tuple[torch.Tensor, ...],
                            real: torch.Tensor, heads: int, denominator: int | None = None) -> torch.Tensor:
    """MiniLMv2's loss: Σ over queries, keys and values of KL(teacher relation ‖ student relation), each row a
    distribution over the keys, averaged over relation heads, summed over real query tokens and divided by
    ``denominator`` (default: their number). ``*_qkv``: (query, key, value) outputs (B, S, width)."""
    total = 0.0
    for s, t in zip(student_qkv, teacher_qkv):
        log_s, log_t = _relations(s, heads, real), _relations(t, heads, real)
        kl = (log_t.exp() * (log_t - log_s)).masked_fill(~real[:, None, None, :], 0.0).sum(-1)  # (B, R, S)
        total = total + kl.mean(1)[real].sum()
    return total / (denominator if denominator is not None else max(int(real.sum()), 1))
