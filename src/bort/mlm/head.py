"""The masked-LM head evaluated at the masked positions only.

Computing a 50k-way softmax at every position is most of a CPU step's cost; only ~15% of the
positions are predicted, so the encoder's hidden states are gathered there first.
"""

from __future__ import annotations

import torch

from bort.errors import BortError


def lm_head(model: torch.nn.Module) -> torch.nn.Module:
    """The masked-LM head of an HF ``*ForMaskedLM`` model (RoBERTa's ``lm_head``, BERT's ``cls``)."""
    for name in ("lm_head", "cls"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    raise BortError(f"{model.__class__.__name__} has no masked-LM head (expected a *ForMaskedLM model)")


class MaskedPositionsLM(torch.nn.Module):
    """An HF masked LM whose forward returns logits only where asked: (n_selected, vocab).

    A module of its own (rather than a function) so that DDP wraps it and its forward, which
    DDP needs to synchronise the gradients.
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.lm = model
        self.head = lm_head(model)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``input_ids``, ``attention_mask``, ``positions`` (True where a prediction is wanted): (batch, seq)."""
        hidden = self.lm.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden[positions])


def masked_logits(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  positions: torch.Tensor) -> torch.Tensor:
    """Logits of an HF masked LM (or a :class:`MaskedPositionsLM`) at ``positions`` only: (n, vocab)."""
    wrapped = model if isinstance(model, (MaskedPositionsLM, torch.nn.parallel.DistributedDataParallel)) else MaskedPositionsLM(model)
    return wrapped(input_ids, attention_mask, positions)
