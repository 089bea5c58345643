"""Logit distillation losses shared by pre-training (over masked positions), the search (its surrogate ê) and any
other stage that matches a student's output distribution to a teacher's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
            denominator: int | None = None) -> torch.Tensor:
    """τ²·KL(softmax(t/τ) ‖ softmax(s/τ)) summed over positions and divided by ``denominator``
    (default: their number, i.e. the mean). Both (n, V).

    The τ² factor keeps the gradient's scale independent of τ (Hinton et al., 2015). One softmax
    per side — the official code applied a second one to the student, which we do not copy.
    """
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="sum")
    return temperature**2 * kl / (denominator if denominator is not None else max(len(student_logits), 1))


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """−Σ softmax(t/τ)·log softmax(s/τ), averaged over positions. Both (n, vocab)."""
    target = F.softmax(teacher_logits.float() / temperature, dim=-1)
    return -(target * F.log_softmax(student_logits.float() / temperature, dim=-1)).sum(-1).mean()
