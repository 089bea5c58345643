"""The masked-LM head evaluated at the masked positions only.

Computing a 50k-way softmax at every position is most of a CPU step's cost; only ~15% of the
positions are predicted, so the encoder's hidden states are gathered there first.
"""

from __future__ import annotations

import torch

from bort.distill.hooks import captured_qkv, qkv_of
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
    DDP needs to synchronise the gradients. ``projection`` (optional) is a trainable module that
    intermediate distillation maps the hidden states with; it lives here so that DDP and the
    optimizer see it with the model.
    """

    def __init__(self, model: torch.nn.Module, projection: torch.nn.Module | None = None):
        super().__init__()
        self.lm = model
        self.head = lm_head(model)
        self.projection = projection

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor,
                relation_layer: int | None = None, states: bool = False):
        """``input_ids``, ``attention_mask``, ``positions`` (True where a prediction is wanted): (batch, seq).

        With ``states``, returns (logits, every layer's hidden states (embeddings first), mapped by the
        projection when there is one, the query, key and value outputs of layer ``relation_layer`` or None),
        for intermediate distillation. The projection runs here, inside forward, so that DDP sees it used.
        """
        if not states:
            hidden = self.lm.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.head(hidden[positions])
        with captured_qkv(self.lm.base_model.encoder, relation_layer) as captured:
            output = self.lm.base_model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        qkv = qkv_of(captured)
        hidden = output.hidden_states
        if self.projection is not None:
            hidden = tuple(self.projection(h) for h in hidden)
        return self.head(output.last_hidden_state[positions]), hidden, qkv


def wrapped_lm(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` as a :class:`MaskedPositionsLM` (already one, or DDP around one, is returned as it is)."""
    if isinstance(model, (MaskedPositionsLM, torch.nn.parallel.DistributedDataParallel)):
        return model
    return MaskedPositionsLM(model)


def masked_logits(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  positions: torch.Tensor) -> torch.Tensor:
    """Logits of an HF masked LM (or a :class:`MaskedPositionsLM`) at ``positions`` only: (n, vocab)."""
    return wrapped_lm(model)(input_ids, attention_mask, positions)
