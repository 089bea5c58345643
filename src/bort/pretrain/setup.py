"""Everything a run needs before its first step: tokenizer, teacher, student, data."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from bort.architecture import Arch
from bort.architecture.hf_config import SUPPORTED_MODEL_TYPES, roberta_config, student_config, usable_positions
from bort.checkpoint import load_config, masked_lm_from_checkpoint
from bort.errors import BortError
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
    from transformers import AutoConfig

    if cfg.init:
        config = load_config(cfg.init)
    elif cfg.student_config:
        path = Path(cfg.student_config)
        if not path.is_file():
            raise BortError(f"--config {path} does not exist")
        try:
            config = AutoConfig.from_pretrained(str(path.parent if path.name == "config.json" else path),
                                                local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise BortError(f"cannot read student config {path}: {str(exc).splitlines()[0]}")
        if config.model_type not in SUPPORTED_MODEL_TYPES:
            raise BortError(f"--config {path}: model_type {config.model_type!r} is not supported; expected one of "
                            f"{SUPPORTED_MODEL_TYPES}")
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
        raise BortError(f"the --init student's vocabulary ({student_cfg.vocab_size} embedding rows, {cfg.init}/config.json) "
                        f"differs from the teacher's ({teacher_cfg.vocab_size}); distillation needs one shared "
                        "vocabulary: extract the student from this teacher with `bort extract`")
    if teacher_cfg is not None and teacher_cfg.vocab_size != vocab:
        raise BortError(f"the teacher's vocabulary ({teacher_cfg.vocab_size} tokens, {cfg.teacher}/config.json) differs "
                        f"from the tokenizer's ({vocab}); distillation needs one shared vocabulary")
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
