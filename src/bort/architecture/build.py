"""Build Hugging Face models for an architecture (random weights), for counting, timing and training."""

from __future__ import annotations

import torch
from transformers import AutoModel, AutoModelForMaskedLM, PretrainedConfig

from bort.architecture.arch import Arch
from bort.architecture.counting import Vocab
from bort.architecture.hf_config import roberta_config

HEADS = ("base", "pooler", "mlm")


def build_model(config: PretrainedConfig, head: str = "base", seed: int | None = None) -> torch.nn.Module:
    """A freshly initialised model for ``config``.

    ``head``: ``base`` — the bare encoder (embeddings + layers), ``pooler`` — with the pooler,
    ``mlm`` — ``*ForMaskedLM`` (decoder tied to the word embeddings, no pooler).
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if seed is not None:
        torch.manual_seed(seed)
    if head == "mlm":
        return AutoModelForMaskedLM.from_config(config).eval()
    return AutoModel.from_config(config, add_pooling_layer=(head == "pooler")).eval()


def build_roberta(arch: Arch, vocab: Vocab = Vocab(), head: str = "base", seed: int | None = None) -> torch.nn.Module:
    """A RoBERTa-layout model of architecture ``arch`` with random weights."""
    return build_model(roberta_config(arch, vocab), head=head, seed=seed)


def numel(module: torch.nn.Module) -> int:
    """Parameters of ``module``, tied weights counted once (``parameters()`` de-duplicates them)."""
    return sum(p.numel() for p in module.parameters())
