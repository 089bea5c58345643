"""Hugging Face configs for students derived from a teacher, and models built from them."""

from __future__ import annotations

from transformers import PretrainedConfig, RobertaConfig

from bort.architecture.arch import Arch
from bort.architecture.counting import Vocab
from bort.errors import BortError

# Only BERT-like encoders share the fields we rewrite; anything else would need its own mapping.
SUPPORTED_MODEL_TYPES = ("bert", "roberta")


def roberta_config(arch: Arch, vocab: Vocab = Vocab(), **overrides) -> RobertaConfig:
    """A RoBERTa config for ``arch`` with RoBERTa's vocabulary, positions and special ids."""
    return RobertaConfig(
        vocab_size=vocab.size,
        max_position_embeddings=vocab.positions,
        type_vocab_size=vocab.type_vocab,
        num_hidden_layers=arch.depth,
        num_attention_heads=arch.heads,
        hidden_size=arch.hidden,
        intermediate_size=arch.intermediate,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
        **overrides,
    )


def arch_of(config: PretrainedConfig) -> Arch:
    """The ⟨D,A,H,I⟩ tuple of a BERT/RoBERTa config."""
    return Arch(config.num_hidden_layers, config.num_attention_heads, config.hidden_size, config.intermediate_size)


def usable_positions(config: PretrainedConfig) -> int | None:
    """Tokens a sequence may hold: RoBERTa offsets positions by padding_idx + 1, so its 514 hold 512."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is None:
        return None
    return positions - (config.pad_token_id + 1 if config.model_type == "roberta" else 0)


def vocab_of(config: PretrainedConfig) -> Vocab:
    """The embedding-side sizes V, S, T of a BERT/RoBERTa config."""
    return Vocab(config.vocab_size, config.max_position_embeddings, config.type_vocab_size)


def student_config(teacher: PretrainedConfig, arch: Arch) -> PretrainedConfig:
    """The teacher's config with only D, A, H, I replaced.

    Vocabulary, positions, token types, activation, layer-norm eps and special ids stay the
    teacher's, so that student and teacher share a tokenizer and an output vocabulary.
    """
    if teacher.model_type not in SUPPORTED_MODEL_TYPES:
        raise BortError(f"teacher model_type {teacher.model_type!r} is not supported; "
                        f"expected one of {SUPPORTED_MODEL_TYPES}")
    config = teacher.__class__.from_dict(teacher.to_dict())
    config.num_hidden_layers = arch.depth
    config.num_attention_heads = arch.heads
    config.hidden_size = arch.hidden
    config.intermediate_size = arch.intermediate
    # A teacher's bookkeeping (its own name, architectures list) does not describe the student.
    config.architectures = None
    config._name_or_path = ""
    return config
