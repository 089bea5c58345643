"""The pre-training run's configuration: one small dataclass, saved into every run directory."""

from __future__ import annotations

from dataclasses import dataclass

from bort.architecture.arch import parse_arch
from bort.config import Config, option, restart_option
from bort.distill.options import attention_weight_option, hidden_weight_option
from bort.errors import BortError
from bort.mlm.corpus import CORPUS_HELP, text_field_option

MODES = ("kd", "mlm")
SCHEDULES = ("noam", "linear", "constant")
PRECISIONS = ("fp32", "bf16")

RUN = "run"
DATA = "data"
OPTIMISATION = "optimisation"
DISTILLATION = "distillation"
BOOKKEEPING = "bookkeeping"


@dataclass(kw_only=True)
class PretrainConfig(Config):
    mode: str = option("kd", "kd: distil from --teacher; mlm: masked LM alone (also how to make a teacher)",
                       choices=MODES, group=RUN)
    corpus: list[str] = option(help=CORPUS_HELP, metavar="PATH", group=RUN)
    text_field: str = text_field_option(RUN)
    out: str = option(help="the run directory", metavar="RUN_DIR", group=RUN, resumable=True)
    teacher: str | None = option(None, "a local Hugging Face masked-LM directory (needed by --mode kd)",
                                 metavar="TEACHER_DIR", group=RUN)
    arch: list[int] | None = option(None, "the student's architecture, e.g. 4,8,1024,768", parse=parse_arch,
                                    metavar="D,A,H,I", group=RUN)
    student_config: str | None = option(None, "the student's HF config instead of --arch (e.g. a search's "
                                        "best/config.json)", flag="--config", metavar="CONFIG.json", group=RUN)
    init: str | None = option(None, "continue pre-training this local checkpoint instead of --arch: its weights "
                              "and tokenizer (any BERT or RoBERTa directory; a masked-LM head tied to the embeddings "
                              "is added when it has none), e.g. to adapt it to a domain or to make a teacher",
                              metavar="MODEL_DIR", group=RUN)
    freeze_encoder: bool = option(False, "with --init: train the masked-LM head alone, the encoder frozen", group=RUN)
    tokenizer: str | None = option(None, "a local tokenizer directory (default: --init's, else the teacher's, else "
                                   "RoBERTa's)", metavar="DIR", group=RUN)
    restart: bool = restart_option(RUN)
    # data
    seq_len: int = option(512, "tokens per sequence", minimum=8, group=DATA)
    val_fraction: float = option(0.05, "share of the documents held out for validation", above=0, group=DATA)
    doc_words: int = option(1000, "words per document when splitting plain text (the unit of the train/validation "
                            "split)", minimum=1, group=DATA)
    mask_prob: float = option(0.15, "share of the tokens masked (80% <mask>, 10% random, 10% kept)", above=0,
                              group=DATA)
    cache_dir: str | None = option(None, "tokenization cache (default: RUN_DIR/token_cache)", group=DATA,
                                   resumable=True)
    # optimisation
    max_steps: int = option(1000, "optimizer steps", minimum=1, group=OPTIMISATION)
    batch_size: int = option(8, "sequences per optimizer step, over all processes", minimum=1, group=OPTIMISATION)
    grad_accum: int = option(1, "micro-batches per optimizer step", minimum=1, group=OPTIMISATION)
    lr: float = option(1e-4, "peak learning rate", above=0, group=OPTIMISATION)
    weight_decay: float = option(0.01, "AdamW weight decay (none on biases and LayerNorms)", minimum=0,
                                 group=OPTIMISATION)
    warmup_steps: int = option(10, "linear warm-up steps (the official scripts: 1% of the steps)", minimum=0,
                               group=OPTIMISATION)
    schedule: str = option("noam", "learning-rate schedule after the warm-up: noam (inverse square root), linear "
                           "(decay to 0 at --max-steps) or constant", choices=SCHEDULES, group=OPTIMISATION)
    clip: float = option(1.0, "gradient-norm clipping; 0 turns it off", minimum=0, group=OPTIMISATION)
    precision: str = option("fp32", "fp32, or bf16 autocast", choices=PRECISIONS, group=OPTIMISATION)
    dropout: float | None = option(None, "override the student's dropout (0 for exact comparisons)", minimum=0,
                                   group=OPTIMISATION)
    seed: int = option(0, "seed of the initialisation, the batches and the masks", group=OPTIMISATION)
    # distillation
    alpha: float = option(0.1, "α, the weight of the MLM term", minimum=0, group=DISTILLATION)
    beta: float = option(0.5, "β, the weight of the distillation term", minimum=0, group=DISTILLATION)
    temperature: float = option(2.0, "τ, the softmax temperature of both distributions", above=0, group=DISTILLATION)
    kd_all_positions: bool = option(False, "distil at every token, not only the masked ones", group=DISTILLATION)
    hidden_weight: float = hidden_weight_option(DISTILLATION, "--mode kd")
    attention_weight: float = attention_weight_option(DISTILLATION, "--mode kd")
    # bookkeeping
    save_every: int = option(200, "checkpoint interval in steps", minimum=1, group=BOOKKEEPING, resumable=True)
    keep_checkpoints: int = option(2, "checkpoints kept", minimum=1, group=BOOKKEEPING, resumable=True)
    eval_every: int = option(100, "validation interval in steps", minimum=1, group=BOOKKEEPING, resumable=True)
    val_batches: int = option(20, "validation batches", minimum=1, group=BOOKKEEPING)
    log_every: int = option(10, "metrics.jsonl interval in steps", minimum=1, group=BOOKKEEPING, resumable=True)
    stop_after: int | None = option(None, "end this invocation after N steps (checkpointed; re-run the same command "
                                    "to continue)", minimum=1, group=BOOKKEEPING, resumable=True)
    max_minutes: float | None = option(None, "a wall-clock budget: the run ends, evaluated and saved, when it is spent",
                                       above=0, group=BOOKKEEPING, resumable=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode == "kd" and not self.teacher:
            raise BortError("--mode kd needs --teacher TEACHER_DIR (or use --mode mlm)")
        if not self.corpus:
            raise BortError("--corpus is required: text files, folders or globs")
        given = [flag for flag, value in (("--arch", self.arch), ("--config", self.student_config),
                                          ("--init", self.init)) if value is not None]
        if not given:
            raise BortError("give the student with --arch D,A,H,I, --config CONFIG.json or --init MODEL_DIR")
        if len(given) > 1:
            raise BortError(f"give one of --arch, --config and --init, not {' and '.join(given)}")
        if self.mode != "kd" and (self.hidden_weight > 0 or self.attention_weight > 0):
            raise BortError("--hidden-weight and --attention-weight distil from a teacher: they need --mode kd")
        if self.freeze_encoder and not self.init:
            raise BortError("--freeze-encoder needs --init MODEL_DIR (a new model has no trained encoder to keep)")
        if not self.mask_prob < 1:
            raise BortError(f"--mask-prob must be below 1, got {self.mask_prob}")
        if not self.val_fraction < 1:
            raise BortError(f"--val-fraction must be below 1, got {self.val_fraction}")
