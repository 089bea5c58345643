"""Everything a run needs before its first step: tokenizer, teacher, student, data."""

from __future__ import annotations

import torch

from bort.architecture import Arch
from bort.architecture.hf_config import arch_of, roberta_config, student_config, usable_positions
from bort.checkpoint import load_config, load_config_file, masked_lm_from_checkpoint
from bort.errors import BortError
from bort.extract.selection import read_selection
from bort.distill.intermediate import IntermediateTerms, relation_heads
from bort.distill.layer_map import HiddenProjection, intermediate_mapping
from bort.pretrain.config import PretrainConfig
from bort.tokenizer import load_tokenizer, tokenizer_for_model


def choose_tokenizer(cfg: PretrainConfig):
    """``--tokenizer``, else --init's, else the teacher directory's own tokenizer, else RoBERTa's shipped one."""
    if cfg.tokenizer:
        return load_tokenizer(cfg.tokenizer)
    if cfg.init:
        return load_tokenizer(cfg.init)
    return tokenizer_for_model(cfg.teacher) if cfg.teacher else load_tokenizer()


def build_student_config(cfg: PretrainConfig, teacher_config, tokenizer):
    """The student's HF config: --init's, ``--config``, or the teacher's (else RoBERTa's) with ``--arch``."""
    if cfg.init:
        config = load_config(cfg.init)
    elif cfg.student_config:
        config = load_config_file(cfg.student_config)
    elif teacher_config is not None:
        config = student_config(teacher_config, Arch(*cfg.arch))
    else:
        config = roberta_config(Arch(*cfg.arch))
        config.vocab_size = len(tokenizer)
    if cfg.dropout is not None:
        config.hidden_dropout_prob = config.attention_probs_dropout_prob = cfg.dropout
    return config


def check_compatible(cfg: PretrainConfig, tokenizer, student_cfg, teacher_cfg) -> None:
    """Vocabulary and positions must agree across tokenizer, student and teacher."""
    vocab = len(tokenizer)
    if cfg.init and teacher_cfg is not None and student_cfg.vocab_size != teacher_cfg.vocab_size:
        raise BortError(f"the --init student's vocabulary ({student_cfg.vocab_size} embedding rows, "
                        f"{cfg.init}/config.json) "
                        f"differs from the teacher's ({teacher_cfg.vocab_size}); distillation needs one shared "
                        "vocabulary: extract the student from this teacher with `bort extract`")
    if teacher_cfg is not None and teacher_cfg.vocab_size != vocab:
        raise BortError(f"the teacher's vocabulary ({teacher_cfg.vocab_size} tokens, {cfg.teacher}/config.json) "
                        f"differs from the tokenizer's ({vocab}); distillation needs one shared vocabulary")
    if student_cfg.vocab_size != vocab:
        raise BortError(f"the student's vocabulary ({student_cfg.vocab_size}) differs from the tokenizer's ({vocab})")
    if teacher_cfg is not None:
        for field in ("max_position_embeddings", "type_vocab_size"):
            if getattr(student_cfg, field) != getattr(teacher_cfg, field):
                raise BortError(f"the student's {field} ({getattr(student_cfg, field)}) does not fit the teacher's "
                                f"({getattr(teacher_cfg, field)})")
    usable = usable_positions(student_cfg)
    if cfg.seq_len > usable:
        raise BortError(f"--seq-len {cfg.seq_len} exceeds the model's {usable} usable positions")


def build_student(cfg: PretrainConfig, config) -> torch.nn.Module:
    """A new masked LM of ``config``; with --init, the checkpoint's weights (a missing MLM head initialised
    from --seed) and, with --freeze-encoder, only the head left trainable."""
    from transformers import AutoModelForMaskedLM

    torch.manual_seed(cfg.seed)
    if not cfg.init:
        return AutoModelForMaskedLM.from_config(config)
    model = masked_lm_from_checkpoint(cfg.init, config)
    if cfg.freeze_encoder:
        model.base_model.requires_grad_(False)
    return model


def intermediate_terms(cfg: PretrainConfig, student_cfg, teacher_cfg) -> tuple[IntermediateTerms | None,
                                                                             HiddenProjection | None]:
    """The hidden-state and attention-relation terms, and the projection the first needs where widths differ.

    The layer map and projection are :func:`bort.distill.layer_map.intermediate_mapping`'s, from the selection
    ``bort extract`` left in --init (when there is one).
    """
    if teacher_cfg is None or not (cfg.hidden_weight > 0 or cfg.attention_weight > 0):
        return None, None
    selection = read_selection(cfg.init, arch_of(teacher_cfg)) if cfg.init else None
    layer_map, projection = intermediate_mapping(student_cfg, teacher_cfg, selection and selection.layers,
                                                 selection and selection.channels, cfg.hidden_weight > 0, cfg.seed)
    heads = relation_heads(student_cfg.num_attention_heads, teacher_cfg.num_attention_heads)
    return IntermediateTerms(cfg.hidden_weight, cfg.attention_weight, layer_map, heads), projection
