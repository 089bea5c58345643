"""The search's configuration, saved as search_config.json; a resumed search must match it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from bort.errors import BortError

LATENCY_SOURCES = ("measured", "flops")


@dataclass
class SearchConfig:
    teacher: str = ""
    corpus: list[str] = field(default_factory=list)
    out: str = "runs/search"
    space: str = "cpu-small"
    # the FPTAS
    steps: int = 3  # s: SGD steps per candidate
    epsilon: int = 1  # keep every ε-th candidate after sorting by parameter count
    lr: float = 1e-2
    batch_size: int = 8
    clip: float = 1.0
    warmup: int = 0  # steps of linear warm-up within the s steps
    temperature: float = 1.0
    all_positions: bool = False  # the loss over every token instead of the masked ones
    seq_len: int = 512
    val_batches: int = 4  # held-out batches for ê
    mask_prob: float = 0.15
    # latency protocol
    latency: str = "measured"  # or "flops": Lemma 1's count, deterministic (2010.08512's surrogate)
    latency_device: str = "cpu"
    latency_batch: int = 1
    latency_seq_len: int = 128
    latency_threads: int | None = None
    latency_repeats: int = 5
    latency_warmup: int = 1
    # execution
    workers: int = 1
    ray: str | None = None  # "local" or a cluster address
    threads_per_worker: int | None = None
    seed: int = 0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if not self.teacher:
            raise BortError("--teacher TEACHER_DIR is required")
        if not self.corpus:
            raise BortError("--corpus is required: text files, folders or globs")
        if self.steps < 1:
            raise BortError(f"--steps (s) must be at least 1, got {self.steps}")
        if self.epsilon < 1:
            raise BortError(f"--epsilon must be at least 1, got {self.epsilon}")
        for name in ("batch_size", "seq_len", "val_batches", "workers", "latency_batch", "latency_seq_len",
                     "latency_repeats"):
            if getattr(self, name) < 1:
                raise BortError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.latency not in LATENCY_SOURCES:
            raise BortError(f"--latency must be one of {LATENCY_SOURCES}, got {self.latency!r}")
        if self.lr <= 0 or self.temperature <= 0:
            raise BortError("--lr and --temperature must be positive")

    # Fields that do not change any candidate's result: they may differ when a search is resumed.
    EXECUTION_ONLY = ("out", "workers", "ray", "threads_per_worker", "cache_dir")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SearchConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def differences(self, other: "SearchConfig") -> list[str]:
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if a[k] != b[k] and k not in self.EXECUTION_ONLY]
