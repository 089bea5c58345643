"""SmoothQuant for the feed-forward input projection: outlier channels moved from activations into weights.

A trained BERT's LayerNorm outputs have a few channels far larger than the rest, and int8 with one
activation scale per tensor spends its 256 levels on them; on all-MiniLM-L6-v2 fine-tuned on SST-2 the
feed-forward input projection (H → I) is where int8 loses most. SmoothQuant (Xiao et al. 2023) divides
each input channel j by s_j = max|X_j|^α / max|W_:,j|^(1-α) and multiplies the weight's column j by
s_j: the product is unchanged, and the activation becomes as easy to quantize as the weight. In a
post-LayerNorm BERT the LayerNorm's output also feeds the residual, so the division cannot be folded
into the LayerNorm: it stays an explicit per-channel multiplication (T × H elementwise, against the
T × H × I of the projection).
"""

from __future__ import annotations

import copy

import torch

ALPHA = 0.5  # the migration strength of the SmoothQuant paper's BERT-size models


class SmoothedLinear(torch.nn.Module):
    """``linear(x · inverse_scale)`` where ``linear``'s weight columns were multiplied by the scale: the same
    function as the original linear. x: (..., in_features) → (..., out_features)."""

    def __init__(self, linear: torch.nn.Linear, inverse_scale: torch.Tensor):
        super().__init__()
        self.linear = linear
        self.register_buffer("inverse_scale", inverse_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inverse_scale)


def ffn_inputs(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str]]:
    """(parent module, attribute) of every layer's feed-forward input projection (``intermediate.dense``)."""
    return [(layer.intermediate, "dense") for layer in model.base_model.encoder.layer]


def smoothing_scales(activation_max: torch.Tensor, weight: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """s_j = max|X_j|^α / max_i|W_ij|^(1-α) for a weight of shape (out, in) and activation maxima of shape (in,)."""
    weight_max = weight.detach().abs().amax(dim=0).clamp(min=1e-5)
    return (activation_max.clamp(min=1e-5) ** alpha / weight_max ** (1 - alpha)).clamp(min=1e-5)


def smooth_ffn_inputs(model: torch.nn.Module, batches: list[dict], alpha: float = ALPHA) -> torch.nn.Module:
    """A copy of ``model`` whose feed-forward input projections are smoothed with activation maxima measured on
    ``batches`` (model inputs). Same outputs up to float rounding; easier to quantize."""
    model = copy.deepcopy(model).eval()
    maxima: dict[int, torch.Tensor] = {}
    hooks = []
    for index, (parent, name) in enumerate(ffn_inputs(model)):
        def record(module, args, index=index):
            x = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(dim=0)
            maxima[index] = torch.maximum(maxima[index], x) if index in maxima else x
        hooks.append(getattr(parent, name).register_forward_pre_hook(record))
    try:
        with torch.no_grad():  # not inference mode: the maxima scale parameters afterwards
            for batch in batches:
                model(**batch)
    finally:
        for hook in hooks:
            hook.remove()
    for index, (parent, name) in enumerate(ffn_inputs(model)):
        linear = getattr(parent, name)
        scale = smoothing_scales(maxima[index], linear.weight, alpha)
        with torch.no_grad():
            linear.weight.mul_(scale)  # column j of (out, in) times s_j
        setattr(parent, name, SmoothedLinear(linear, 1 / scale))
    return model
