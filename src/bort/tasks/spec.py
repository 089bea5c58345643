"""What a task is: its files, labels, casting, metrics and submission file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bort.errors import BortError
from bort.tasks.example import Example

KINDS = ("classification", "regression", "choice", "multirc")
QA_MAX_LEN = 256  # passage QA (BoolQ, MultiRC, ReCoRD, RACE): the passage is truncated, not the question


@dataclass(frozen=True)
class TaskSpec:
    """A task as bort knows it.

    ``kind``: ``classification`` (one label per example), ``regression`` (STS-B), ``choice``
    (binary pairs, one option per question wins: COPA, ReCoRD, RACE) or ``multirc`` (binary pairs,
    every option judged on its own, scored per answer and per question).
    ``max_len``: the default tokens per example (QA tasks over passages need more).
    ``files``: split → path inside the task's folder. ``metrics``: the first is the one early
    stopping follows. ``scored_by``: the task whose fine-tuned model predicts this diagnostic set.
    """

    name: str
    kind: str
    files: dict[str, str]
    reader: Callable[[Path, str], list[Example]]
    metrics: tuple[str, ...]
    submission: str  # file name on the leaderboard, e.g. "RTE.tsv", "CB.jsonl"
    labels: tuple[str, ...] = ()  # class names in index order; empty for regression
    submission_labels: tuple[str, ...] = ()  # how the leaderboard spells them, when it differs
    scored_by: str | None = None
    notes: str = ""
    test_only: bool = False
    max_len: int = 128  # tokens per example unless --max-len says otherwise
    extra: dict = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        if self.kind == "regression":
            return 1
        if self.kind in ("choice", "multirc"):
            return 2
        return len(self.labels)

    @property
    def benchmark(self) -> str:
        return self.name.split("/")[0]

    def path(self, data_dir: Path, split: str) -> Path:
        if split not in self.files:
            raise BortError(f"task {self.name} has no {split!r} split; it has {sorted(self.files)}")
        return Path(data_dir) / self.files[split]

    def has_file(self, data_dir: Path, split: str) -> bool:
        """Whether ``data_dir`` holds this task's file of ``split`` (a split the task does not have: False)."""
        return split in self.files and self.path(data_dir, split).exists()

    def read(self, data_dir: Path, split: str) -> list[Example]:
        return self.reader(self.path(data_dir, split), split)
