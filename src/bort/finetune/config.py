"""A fine-tuning run's configuration, saved as finetune_config.json in the run directory."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bort.errors import BortError


@dataclass
class FinetuneConfig:
    model: str = ""
    task: str = ""
    data: str = ""
    out: str = "runs/finetune"
    method: str = "plain"
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1  # a fraction of the total steps
    clip: float = 1.0
    max_len: int = 128
    dropout: float = 0.1
    head_init: float | None = None  # a: the head's weights drawn from U(−a, a) (the paper: 0.5)
    patience: int = 2  # epochs without a better dev metric before stopping
    max_train_examples: int | None = None  # a seeded subset of the training set
    balance: bool = False  # discard negatives of binary-cast QA tasks to balance the labels (the paper's way)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("plain", "agora"):
            raise BortError(f"--method must be plain or agora, got {self.method!r}")
        for name in ("epochs", "batch_size", "max_len", "patience"):
            if getattr(self, name) < 1:
                raise BortError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise BortError(f"--lr must be positive, got {self.lr}")

    def to_dict(self) -> dict:
        return asdict(self)
