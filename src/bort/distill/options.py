"""The intermediate terms' options, defined once for every command that distils (pretrain, finetune)."""

from __future__ import annotations

from bort.config import option


def hidden_weight_option(group: str | None = None, needs: str = "a teacher"):
    """``--hidden-weight`` (γ)."""
    return option(0.0, "γ, the weight of the hidden-state MSE between each student layer and its teacher layer "
                  "(TinyBERT, Minitron; the layer it was extracted from, else evenly spaced; a learned projection "
                  f"where the widths differ; needs {needs}); 0 turns it off", minimum=0, group=group)


def attention_weight_option(group: str | None = None, needs: str = "a teacher"):
    """``--attention-weight`` (δ)."""
    return option(0.0, "δ, the weight of MiniLMv2's self-attention relation loss (query-query, key-key and "
                  f"value-value relations of the last layer and its teacher layer; needs {needs}); 0 turns it off",
                  minimum=0, group=group)
