"""The BERT family's architecture tuple ⟨D, A, H, I⟩ (Bort paper §2)."""

from __future__ import annotations

from dataclasses import dataclass

from bort.errors import BortError


@dataclass(frozen=True, order=True)
class Arch:
    """An encoder architecture: depth D, attention heads A, hidden size H, intermediate size I.

    Frozen and ordered so it can key a dict, sit in a set and sort deterministically.
    Everything else about the model (vocabulary, positions, activation, ...) comes from the
    teacher's config; see :func:`bort.architecture.hf_config.student_config`.
    """

    depth: int
    heads: int
    hidden: int
    intermediate: int

    def __post_init__(self) -> None:
        for name in ("depth", "heads", "hidden", "intermediate"):
            value = getattr(self, name)
            # bool is an int subclass; reject it too so that True never means a 1-layer model.
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BortError(f"architecture {name} must be a positive integer, got {value!r}")
        if self.hidden % self.heads:
            raise BortError(
                f"invalid architecture {self}: hidden size H={self.hidden} is not divisible by "
                f"the number of heads A={self.heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def as_list(self) -> list[int]:
        return [self.depth, self.heads, self.hidden, self.intermediate]

    def __str__(self) -> str:
        return f"⟨{self.depth},{self.heads},{self.hidden},{self.intermediate}⟩"

    @classmethod
    def parse(cls, text: str) -> "Arch":
        """Parse ``"D,A,H,I"`` (e.g. ``"4,8,1024,768"``); a clear error on anything else."""
        parts = [p.strip() for p in str(text).strip().strip("<>⟨⟩()[]").split(",")]
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise BortError(
                f"cannot read architecture {text!r}: expected four positive integers D,A,H,I "
                "such as 4,8,1024,768"
            )
        return cls(*(int(p) for p in parts))


def parse_arch(text: str) -> list[int]:
    """``"4,8,1024,768"`` → [4, 8, 1024, 768], validated as an architecture (a command-line parser)."""
    return Arch.parse(text).as_list()
