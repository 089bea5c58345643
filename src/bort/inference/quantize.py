"""PyTorch fast paths for CPU inference: dynamic int8 and bf16 copies of a model."""

from __future__ import annotations

import copy
import warnings

import torch


def dynamic_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a dynamically quantized int8 one.

    Weights are quantized once (per tensor, symmetric); activations are quantized per batch at run
    time. Embeddings and LayerNorms stay fp32, which keeps parity with fp32 high.
    """
    with warnings.catch_warnings():
        # Eager-mode quantization is deprecated upstream but remains the fastest CPU int8 path here.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {torch.nn.Linear}, dtype=torch.qint8)


def bf16(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with bf16 weights; fast only where the CPU has native bf16."""
    return copy.deepcopy(model).eval().to(torch.bfloat16)
