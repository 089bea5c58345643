"""The pre-training run's configuration: one small dataclass, saved into every run directory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from bort.errors import BortError

MODES = ("kd", "mlm")
SCHEDULES = ("noam", "linear", "constant")
PRECISIONS = ("fp32", "bf16")


@dataclass
class PretrainConfig:
    mode: str = "kd"
    corpus: list[str] = field(default_factory=list)
    out: str = "runs/pretrain"
    teacher: str | None = None
    arch: list[int] | None = None  # [D, A, H, I]; or student_config
    student_config: str | None = None  # an HF config.json (e.g. a search's best/config.json)
    tokenizer: str | None = None  # default: the teacher's, else RoBERTa's shipped one
    # data
    seq_len: int = 512
    val_fraction: float = 0.05
    doc_words: int = 1000
    mask_prob: float = 0.15
    cache_dir: str | None = None
    # optimisation
    max_steps: int = 1000
    batch_size: int = 8  # sequences per optimizer step, over all processes
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.01  # a fraction of max_steps (< 1) or a number of steps (≥ 1)
    schedule: str = "noam"
    clip: float = 1.0
    precision: str = "fp32"
    dropout: float | None = None  # override the student's dropout (0 for exact comparisons)
    # distillation
    alpha: float = 0.1
    beta: float = 0.5
    temperature: float = 2.0
    kd_all_positions: bool = False
    # bookkeeping
    seed: int = 0
    save_every: int = 200
    keep_checkpoints: int = 2
    eval_every: int = 100
    val_batches: int = 20
    log_every: int = 10
    stop_after: int | None = None  # end this invocation after this many steps (checkpointed; resume later)
    max_minutes: float | None = None  # a wall-clock budget: the run ends, evaluated and saved, when it is spent

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BortError(f"--mode must be one of {MODES}, got {self.mode!r}")
        if self.schedule not in SCHEDULES:
            raise BortError(f"--schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.precision not in PRECISIONS:
            raise BortError(f"--precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.mode == "kd" and not self.teacher:
            raise BortError("--mode kd needs --teacher TEACHER_DIR (or use --mode mlm)")
        if not self.corpus:
            raise BortError("--corpus is required: text files, folders or globs")
        if self.arch is None and self.student_config is None:
            raise BortError("give the student's architecture with --arch D,A,H,I or --config CONFIG.json")
        if self.arch is not None and self.student_config is not None:
            raise BortError("give either --arch or --config, not both")
        for name in ("max_steps", "batch_size", "grad_accum", "seq_len", "save_every", "eval_every", "val_batches",
                     "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise BortError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.seq_len < 8:
            raise BortError(f"--seq-len must be at least 8, got {self.seq_len}")
        if not 0 < self.mask_prob < 1:
            raise BortError(f"--mask-prob must be in (0, 1), got {self.mask_prob}")
        if not 0 < self.val_fraction < 1:
            raise BortError(f"--val-fraction must be in (0, 1), got {self.val_fraction}")
        if self.temperature <= 0:
            raise BortError(f"--temperature must be positive, got {self.temperature}")
        if self.lr <= 0:
            raise BortError(f"--lr must be positive, got {self.lr}")

    @property
    def warmup_steps(self) -> int:
        return max(1, round(self.warmup * self.max_steps)) if self.warmup < 1 else int(self.warmup)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PretrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: Path) -> None:
        from bort.util.io import write_json_atomic

        write_json_atomic(path, self.to_dict())

    # Fields that may change between a run and its resumption without changing its results.
    RESUMABLE_CHANGES = ("stop_after", "max_minutes", "save_every", "keep_checkpoints", "eval_every", "log_every", "out", "cache_dir")

    def differences(self, other: "PretrainConfig") -> list[str]:
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if a[k] != b[k] and k not in self.RESUMABLE_CHANGES]
