"""A search space Ξ: four sets of depths, heads, hidden and intermediate sizes (Bort paper §3)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bort.architecture.arch import Arch
from bort.architecture.counting import Vocab, count_params
from bort.errors import BortError


def _positive_sorted(name: str, values) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(v) for v in values}))
    except (TypeError, ValueError):
        raise BortError(f"search space field {name!r} must be a list of positive integers, got {values!r}")
    if not out or out[0] < 1:
        raise BortError(f"search space field {name!r} must be a non-empty list of positive integers, got {values!r}")
    return out


@dataclass(frozen=True)
class SearchSpace:
    """The Cartesian product D × A × H × I, minus the invalid tuples (H not divisible by A).

    ``even_depth`` keeps only even depths (the paper's Lemma 3); it is on for the paper preset.
    """

    depths: tuple[int, ...]
    heads: tuple[int, ...]
    hiddens: tuple[int, ...]
    intermediates: tuple[int, ...]
    even_depth: bool = False
    vocab: Vocab = field(default_factory=Vocab)

    def __post_init__(self) -> None:
        for name in ("depths", "heads", "hiddens", "intermediates"):
            object.__setattr__(self, name, _positive_sorted(name, getattr(self, name)))

    @classmethod
    def from_dict(cls, spec: dict, vocab: Vocab = Vocab()) -> "SearchSpace":
        """Build from ``{"depths": [...], "heads": [...], "hiddens": [...], "intermediates": [...]}``."""
        keys = ("depths", "heads", "hiddens", "intermediates")
        missing = [k for k in keys if k not in spec]
        if missing:
            raise BortError(f"search space is missing field(s) {missing}; "
                            f"expected {list(keys)} and optionally 'even_depth'")
        unknown = sorted(set(spec) - set(keys) - {"even_depth"})
        if unknown:
            raise BortError(f"search space has unknown field(s) {unknown}; "
                            f"expected {list(keys)} and optionally 'even_depth'")
        return cls(*(spec[k] for k in keys), even_depth=bool(spec.get("even_depth", False)), vocab=vocab)

    def to_dict(self) -> dict:
        return {
            "depths": list(self.depths),
            "heads": list(self.heads),
            "hiddens": list(self.hiddens),
            "intermediates": list(self.intermediates),
            "even_depth": self.even_depth,
        }

    def candidates(self) -> list[Arch]:
        """Every valid tuple, sorted by total parameter count (ties by the tuple itself)."""
        archs = [
            Arch(d, a, h, i)
            for d, a, h, i in itertools.product(self.depths, self.heads, self.hiddens, self.intermediates)
            if h % a == 0 and (d % 2 == 0 or not self.even_depth)
        ]
        if not archs:
            raise BortError(f"search space {self.to_dict()} holds no valid architecture (H must be divisible by A)")
        return sorted(archs, key=lambda a: (count_params(a, self.vocab).total, a))

    def __len__(self) -> int:
        return len(self.candidates())


# The paper's space (Bort paper §3.3): 6 × 4 × 3 × 5 = 360 tuples, 300 valid.
PAPER_SPACE = SearchSpace(
    depths=(2, 4, 6, 8, 10, 12),
    heads=(4, 8, 12, 16),
    hiddens=(512, 768, 1024),
    intermediates=(256, 512, 768, 1024, 3072),
    even_depth=True,
)
