"""The architectures the paper compares against (Bort paper §3.4, Tables 1 and 2)."""

from __future__ import annotations

from dataclasses import dataclass

from bort.architecture.arch import Arch
from bort.architecture.counting import Vocab

ROBERTA = Vocab(50265, 514, 1)
BERT_UNCASED = Vocab(30522, 512, 2)


@dataclass(frozen=True)
class ReferenceModel:
    name: str
    arch: Arch
    vocab: Vocab
    pooler: bool  # whether the published checkpoint ships a pooler


REFERENCE_MODELS: tuple[ReferenceModel, ...] = (
    ReferenceModel("RoBERTa-large", Arch(24, 16, 1024, 4096), ROBERTA, True),
    ReferenceModel("BERT-large", Arch(24, 16, 1024, 4096), BERT_UNCASED, True),
    ReferenceModel("RoBERTa-base", Arch(12, 12, 768, 3072), ROBERTA, True),
    ReferenceModel("Bort (released)", Arch(4, 8, 1024, 768), ROBERTA, True),
    ReferenceModel("Bort (as printed)", Arch(4, 8, 768, 1024), ROBERTA, True),
    ReferenceModel("TinyBERT-4", Arch(4, 12, 312, 1200), BERT_UNCASED, True),
    ReferenceModel("BERT-Mini", Arch(4, 4, 256, 1024), BERT_UNCASED, True),
    ReferenceModel("BERT-Small", Arch(4, 8, 512, 2048), BERT_UNCASED, True),
    ReferenceModel("BERT-of-Theseus", Arch(6, 12, 768, 3072), BERT_UNCASED, True),
)


def reference(name: str) -> ReferenceModel:
    for model in REFERENCE_MODELS:
        if model.name == name:
            return model
    raise KeyError(name)
