"""Masked-LM and distillation losses over the masked positions (the logit and intermediate terms themselves are
:mod:`bort.distill`'s)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bort.distill.intermediate import IntermediateTerms, attention_relation_loss, hidden_state_loss
from bort.distill.losses import kd_loss
from bort.mlm.head import masked_logits, wrapped_lm
from bort.mlm.masking import IGNORE


def mlm_loss(logits: torch.Tensor, targets: torch.Tensor, denominator: int | None = None) -> torch.Tensor:
    """Cross-entropy summed over the masked positions and divided by ``denominator`` (default: their
    number, i.e. the mean). ``logits`` (n, V), ``targets`` (n,)."""
    total = F.cross_entropy(logits.float(), targets, reduction="sum")
    return total / (denominator if denominator is not None else max(len(targets), 1))


@dataclass
class LossParts:
    total: torch.Tensor
    mlm: torch.Tensor
    kd: torch.Tensor | None
    correct: int  # masked positions the student got right (argmax), for accuracy
    count: int
    hidden: torch.Tensor | None = None  # the hidden-state MSE, when intermediate distillation is on
    attention: torch.Tensor | None = None  # the attention-relation KL, likewise


def loss_positions(labels: torch.Tensor, attention_mask: torch.Tensor, distilling: bool,
                   kd_all_positions: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each term is computed, both (batch, seq) bool: the masked positions for MLM; for KD the
    masked ones too, or every real (non-padding) token with ``kd_all_positions``."""
    masked = labels != IGNORE
    return masked, (attention_mask > 0) if (distilling and kd_all_positions) else masked


def training_loss(student, batch: dict, labels: torch.Tensor, teacher=None, alpha: float = 0.1, beta: float = 0.5,
                  temperature: float = 2.0, kd_all_positions: bool = False,
                  denominators: tuple[int, ...] | None = None,
                  intermediate: IntermediateTerms | None = None) -> LossParts:
    """MLM (no teacher) or α·MLM + β·τ²·KL (with a teacher) for one batch.

    ``labels``: (batch, seq), ``IGNORE`` where no prediction is wanted. With ``kd_all_positions``
    the KL term covers every real token, the MLM term still only the masked ones. Each term is a
    mean over its positions; ``denominators`` (MLM positions, KD positions), counted over a whole
    global batch, turn them into sums over this slice divided by those counts, so that the slices of
    several micro-batches and processes add up to the global batch's mean exactly.

    ``intermediate`` (with a teacher) adds γ·hidden-state MSE and δ·attention-relation KL
    (:mod:`bort.distill.intermediate`), each a mean over real tokens (``denominators``' third count).
    """
    masked, kd_positions = loss_positions(labels, batch["attention_mask"], teacher is not None, kd_all_positions)
    n_mlm, n_kd, n_real = (tuple(denominators) + (None,))[:3] if denominators is not None else (None, None, None)
    if teacher is not None and intermediate is not None and intermediate.active:
        return _with_intermediate(student, batch, labels, teacher, alpha, beta, temperature, masked, kd_positions,
                                  (n_mlm, n_kd, n_real), intermediate)
    logits = masked_logits(student, batch["input_ids"], batch["attention_mask"], kd_positions)
    if teacher is None:
        return _logit_terms(logits, None, labels, masked, kd_positions, alpha, beta, temperature, n_mlm, n_kd)
    with torch.inference_mode():
        teacher_logits = masked_logits(teacher, batch["input_ids"], batch["attention_mask"], kd_positions)
    # clone: an ordinary tensor again, usable by autograd
    return _logit_terms(logits, teacher_logits.clone(), labels, masked, kd_positions, alpha, beta, temperature, n_mlm,
                        n_kd)


def _logit_terms(logits, teacher_logits, labels, masked, kd_positions, alpha, beta, temperature, n_mlm,
                 n_kd) -> LossParts:
    """MLM (no teacher logits) or α·MLM + β·τ²·KL from the student's logits at ``kd_positions``."""
    # Rows of `logits` follow kd_positions; pick the masked ones for the MLM term.
    masked_rows = masked[kd_positions]
    targets = labels[masked]
    mlm = mlm_loss(logits[masked_rows], targets, n_mlm)
    with torch.no_grad():
        correct = int((logits[masked_rows].argmax(-1) == targets).sum())
    if teacher_logits is None:
        return LossParts(mlm, mlm, None, correct, int(targets.numel()))
    kd = kd_loss(logits, teacher_logits, temperature, n_kd)
    return LossParts(alpha * mlm + beta * kd, mlm, kd, correct, int(targets.numel()))

def _with_intermediate(student, batch, labels, teacher, alpha, beta, temperature, masked, kd_positions, denominators,
                       terms: IntermediateTerms) -> LossParts:
    """:func:`training_loss` with the hidden-state and attention-relation terms: student and teacher run once,
    returning their logits, hidden states and the relation layer's queries, keys and values."""
    n_mlm, n_kd, n_real = denominators
    ids, attention = batch["input_ids"], batch["attention_mask"]
    real = attention > 0
    wrapped = wrapped_lm(student)
    depth = len(terms.layer_map)
    logits, states, qkv = wrapped(ids, attention, kd_positions, depth - 1 if terms.attention_weight > 0 else None,
                                  states=True)
    with torch.inference_mode():
        t_logits, t_states, t_qkv = wrapped_lm(teacher)(
            ids, attention, kd_positions, terms.layer_map[-1] if terms.attention_weight > 0 else None, states=True)
    t_states = tuple(t.clone() for t in t_states)
    t_qkv = tuple(t.clone() for t in t_qkv) if t_qkv is not None else None
    parts = _logit_terms(logits, t_logits.clone(), labels, masked, kd_positions, alpha, beta, temperature, n_mlm, n_kd)
    if terms.hidden_weight > 0:
        parts.hidden = hidden_state_loss(states, t_states, terms.layer_map, real, n_real)
        parts.total = parts.total + terms.hidden_weight * parts.hidden
    if terms.attention_weight > 0:
        parts.attention = attention_relation_loss(qkv, t_qkv, real, terms.relation_heads, n_real)
        parts.total = parts.total + terms.attention_weight * parts.attention
    return parts
