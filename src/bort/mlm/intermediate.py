"""Intermediate distillation losses: hidden states (TinyBERT, Minitron) and self-attention relations (MiniLMv2).

Both compare a student layer with the teacher layer mapped to it: for a student from ``bort extract``,
the teacher layer it was cut from; otherwise layer j of D ↔ teacher layer ⌈(j+1)·D_T/D⌉ − 1 (the last
with the last). Positions are the real (non-padding) tokens.
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


def uniform_layer_map(student_depth: int, teacher_depth: int) -> list[int]:
    """Teacher layer of each student layer when nothing better is known: evenly spaced, last to last."""
    return [math.ceil((j + 1) * teacher_depth / student_depth) - 1 for j in range(student_depth)]


class HiddenProjection(torch.nn.Module):
    """The learned map from the student's hidden width to the teacher's (TinyBERT's W_h), (…, H) → (…, H_T).

    For an extracted student it starts as the embedding of its kept channels (channel k of the student
    is channel ``channels[k]`` of the teacher), so the loss starts at what extraction left, not at noise.
    """

    def __init__(self, student_width: int, teacher_width: int, channels: list[int] | None = None):
        super().__init__()
        self.linear = torch.nn.Linear(student_width, teacher_width, bias=False)
        if channels is not None:
            with torch.no_grad():
                self.linear.weight.zero_()
                self.linear.weight[torch.tensor(channels), torch.arange(student_width)] = 1.0

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.linear(states)


def hidden_state_loss(student_states: tuple[torch.Tensor, ...], teacher_states: tuple[torch.Tensor, ...],
                      layer_map: list[int], real: torch.Tensor, denominator: int | None = None) -> torch.Tensor:
    """Σ over mapped layers of the squared error per channel (mean over the teacher's channels), summed over
    real tokens and divided by ``denominator`` (default: their number) and the number of layers.

    ``*_states``: HF ``hidden_states`` tuples (embeddings first), each (B, S, H_T) — the student's already
    projected to the teacher's width (:class:`HiddenProjection`); ``real`` (B, S) bool.
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
