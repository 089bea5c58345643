"""Exact parameter counts (Lemma 2) and FLOPs per sequence (Lemma 1), Bort paper Appendix B.

The counts follow Hugging Face's BERT/RoBERTa layout and are checked against ``numel`` of built
models in the tests. They do not depend on the number of heads A.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bort.architecture.arch import Arch

# GeLU cost in FLOPs per element. The paper leaves c_g symbolic; 8 is the usual count for the
# tanh approximation (a few multiplies, an add and a tanh). It only nudges the FFN term.
GELU_FLOPS = 8

ROBERTA_VOCAB = 50265
ROBERTA_POSITIONS = 514
ROBERTA_TYPE_VOCAB = 1


@dataclass(frozen=True)
class Vocab:
    """The embedding-side sizes that come from the teacher: V tokens, S positions, T token types."""

    size: int = ROBERTA_VOCAB
    positions: int = ROBERTA_POSITIONS
    type_vocab: int = ROBERTA_TYPE_VOCAB


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameter counts of one architecture, part by part."""

    embeddings: int
    encoder: int
    pooler: int
    mlm_head: int

    @property
    def total(self) -> int:
        """Embeddings + encoder: the bare encoder model without pooler or heads."""
        return self.embeddings + self.encoder

    @property
    def effective(self) -> int:
        """The paper's "effective" size: the encoder layers, not counting the embedding layer."""
        return self.encoder

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total, "effective": self.effective}


def embedding_params(hidden: int, vocab: Vocab) -> int:
    """Word + position + token-type embeddings and their LayerNorm: (V + S + T)·H + 2H."""
    return (vocab.size + vocab.positions + vocab.type_vocab) * hidden + 2 * hidden


def layer_params(hidden: int, intermediate: int) -> int:
    """One encoder layer: Q, K, V, O with biases; the FFN; two LayerNorms: 4H² + 2HI + 9H + I."""
    return 4 * hidden**2 + 2 * hidden * intermediate + 9 * hidden + intermediate


def count_params(arch: Arch, vocab: Vocab = Vocab()) -> ParamBreakdown:
    """Exact parameter breakdown of ``arch`` in Hugging Face's BERT/RoBERTa layout."""
    h = arch.hidden
    return ParamBreakdown(
        embeddings=embedding_params(h, vocab),
        encoder=arch.depth * layer_params(h, arch.intermediate),
        pooler=h * h + h,
        # dense + LayerNorm + decoder bias; the decoder weight is tied to the word embeddings.
        mlm_head=h * h + h + 2 * h + vocab.size,
    )


def flops_per_sequence(arch: Arch, n_tokens: int, gelu_flops: int = GELU_FLOPS) -> int:
    """Forward FLOPs for one sequence of ``n_tokens`` tokens (Lemma 1, a multiply-add = 2 FLOPs).

    Per layer: QKV and output projections 8nH², attention scores and mixing 4n²H, the FFN 4nHI,
    GeLU c_g·n·I; plus 2H² for the pooler. Embeddings are lookups and cost nothing here.
    """
    n, h, i = n_tokens, arch.hidden, arch.intermediate
    per_layer = 8 * n * h * h + 4 * n * n * h + 4 * n * h * i + gelu_flops * n * i
    return arch.depth * per_layer + 2 * h * h
