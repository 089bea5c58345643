"""Capturing what a layer computes inside: the query, key and value projections of one self-attention, which
MiniLMv2's attention relations compare (:func:`bort.distill.intermediate.attention_relation_loss`)."""

from __future__ import annotations

from contextlib import contextmanager

import torch

QKV = ("query", "key", "value")


@contextmanager
def captured_qkv(encoder: torch.nn.Module, layer: int | None):
    """Within the block, the forward passes of ``encoder.layer[layer]``'s query, key and value linears leave their
    outputs, each (batch, seq, width), in the dict yielded (keys ``query``, ``key``, ``value``); with ``layer``
    None nothing is captured. The hooks are removed on leaving, an exception included."""
    captured: dict[str, torch.Tensor] = {}
    handles = []
    if layer is not None:
        attention = encoder.layer[layer].attention.self
        for name in QKV:
            handles.append(getattr(attention, name).register_forward_hook(
                lambda module, args, out, name=name: captured.__setitem__(name, out)))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def qkv_of(captured: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...] | None:
    """(query, key, value) from :func:`captured_qkv`'s dict, or None when nothing was captured."""
    return tuple(captured[n] for n in QKV) if captured else None
