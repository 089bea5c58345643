"""Which parts of the teacher a ⟨D,A,H,I⟩ student keeps: layers, heads and their dimensions, neurons, channels.

The rule for heads (transformers 5 fixes a student's head size at s = H/A; the teacher's is d = H_T/A_T):

- s = d: the A most important heads, whole — an exact selection;
- s < d: the A most important heads, each trimmed to its s most important dimensions;
- s > d: heads regrouped — the A·m most important heads (m = ⌈s/d⌉), the most important m forming the
  first student head and so on, each group trimmed to its s most important dimensions when m·d > s
  (Bort's ⟨4,8,1024,768⟩ from RoBERTa-large: 16 heads of 64 become 8 of 128, exactly 2 per head);
- when A·m heads are more than the teacher has: the ⌈H/d⌉ most important heads' dimensions, the least
  important dimensions among them dropped to leave H in all, cut in order into A heads of s.

A dimension keeps its Q, K and V rows together (they share the head's index). A student head of s
dimensions scales its attention logits by 1/√s where the teacher's used 1/√d: the query rows are
multiplied by √(s/d), so that a regrouped head's logits are exactly the sum of its teacher heads' and a
trimmed head's are the teacher's less the dropped dimensions' share. Kept neurons, channels and whole
heads are in the teacher's order (regrouped heads are ordered by importance), so that extracting the
teacher's own shape reproduces it exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bort.architecture import Arch
from bort.errors import BortError
from bort.extract.importance import Importance
from bort.util.io import write_text_atomic

LAYER_RULES = ("importance", "uniform")
REPORT_FILE = "extraction.json"  # beside an extracted student: what it kept (read by distillation's layer map)


@dataclass
class Selection:
    """What a student keeps, in teacher indices.

    layers (D,): the teacher layer of each student layer; heads: per student layer, per student head, the
    teacher heads it is made of; attention_dims: per student layer, the H teacher attention dimensions
    (Q/K/V rows, W_O columns) in student order; neurons: per student layer, the I kept FFN neurons;
    channels (H,): the kept hidden channels; head_rule: how heads were formed (see the module docstring);
    query_scale: √(s/d), the factor on the query rows that keeps the attention logits' scale.
    """

    layers: list[int]
    heads: list[list[list[int]]]
    attention_dims: list[list[int]]
    neurons: list[list[int]]
    channels: list[int]
    head_rule: str
    query_scale: float = 1.0

    @property
    def exact(self) -> bool:
        """True when every student head is one whole teacher head (none regrouped, trimmed or split)."""
        return self.head_rule == "exact"

    def to_dict(self) -> dict:
        return asdict(self)


def read_selection(model_dir: str | Path, teacher: Arch) -> Selection | None:
    """The selection ``bort extract`` recorded beside a student cut from a teacher of shape ``teacher``; None
    for any other model directory, or for a student cut from a teacher of another shape."""
    path = Path(model_dir) / REPORT_FILE
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        selection = Selection(**report["selection"])
        from_teacher = report["teacher_arch"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BortError(f"{path} is damaged ({type(exc).__name__}: {exc}); it should be bort extract's record")
    return selection if from_teacher == teacher.as_list() else None


def carry_selection(student_dir: str | Path | None, out: str | Path) -> bool:
    """Copy the selection recorded beside ``student_dir`` (if any) into ``out``, a model trained on from it: its
    layers still come from the same teacher layers, which later distillation maps to. True if one was copied."""
    source = Path(student_dir) / REPORT_FILE if student_dir else None
    if source is None or not source.is_file():
        return False
    write_text_atomic(Path(out) / REPORT_FILE, source.read_text(encoding="utf-8"))
    return True


def check_fits(arch: Arch, teacher: Arch, where: str = "the teacher") -> None:
    """A student can only keep what its teacher has: every dimension at most the teacher's."""
    for name, label in (("depth", "layers"), ("heads", "attention heads"), ("hidden", "hidden channels"),
                        ("intermediate", "FFN neurons")):
        if getattr(arch, name) > getattr(teacher, name):
            raise BortError(f"cannot extract {arch} from {where} {teacher}: it asks for {getattr(arch, name)} "
                            f"{label}, the teacher has {getattr(teacher, name)}")


def top(scores: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` largest scores, in ascending index order (ties broken by the lower index)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return sorted(order[:k])


def ranked(scores: torch.Tensor, indices: list[int] | None = None) -> list[int]:
    """``indices`` (default all) from the most to the least important."""
    indices = list(range(len(scores))) if indices is None else indices
    return sorted(indices, key=lambda i: (-float(scores[i]), i))


def choose_layers(importance: Importance, depth: int, rule: str) -> list[int]:
    """The teacher layers a student of ``depth`` keeps, in order: the most important, or every k-th
    (DistilBERT's initialisation: 0, 2, 4 of 6)."""
    n = len(importance.layers)
    if rule == "uniform":
        return sorted({round(i * n / depth) for i in range(depth)})
    if rule != "importance":
        raise BortError(f"--layers must be one of {LAYER_RULES}, got {rule!r}")
    return top(importance.layers, depth)


def choose_heads(head_scores: torch.Tensor, dim_scores: torch.Tensor, heads: int, head_size: int) -> tuple[
        list[list[int]], list[int], str]:
    """One layer's student heads: (teacher heads per student head, the H kept dimensions in student order,
    the rule used). ``head_scores`` (A_T,), ``dim_scores`` (H_T,)."""
    n_teacher = len(head_scores)
    teacher_size = len(dim_scores) // n_teacher

    def dims_of(group: list[int], keep: int) -> list[int]:
        candidates = [h * teacher_size + j for h in group for j in range(teacher_size)]
        return sorted(ranked(dim_scores, candidates)[:keep])

    if head_size <= teacher_size:
        groups = [[h] for h in top(head_scores, heads)]
        rule = "exact" if head_size == teacher_size else "trimmed"
    else:
        m = math.ceil(head_size / teacher_size)
        if heads * m <= n_teacher:
            best = ranked(head_scores)[:heads * m]
            groups = [sorted(best[j * m:(j + 1) * m]) for j in range(heads)]
            rule = "regrouped" if m * teacher_size == head_size else "regrouped and trimmed"
        else:
            needed = math.ceil(heads * head_size / teacher_size)
            kept = top(head_scores, needed)
            dims = dims_of(kept, heads * head_size)
            chunks = [dims[j * head_size:(j + 1) * head_size] for j in range(heads)]
            return [sorted({d // teacher_size for d in c}) for c in chunks], dims, "split across heads"
    dims = [d for group in groups for d in dims_of(group, head_size)]
    return groups, dims, rule


def select(importance: Importance, teacher: Arch, arch: Arch, layers: str = "importance") -> Selection:
    """The kept sets of ``arch`` cut from ``teacher`` by ``importance``."""
    check_fits(arch, teacher)
    kept_layers = choose_layers(importance, arch.depth, layers)
    heads, dims, neurons, rules = [], [], [], set()
    for layer in kept_layers:
        groups, layer_dims, rule = choose_heads(importance.heads[layer], importance.attention_dims[layer], arch.heads,
                                                arch.head_dim)
        heads.append(groups)
        dims.append(layer_dims)
        rules.add(rule)
        neurons.append(top(importance.neurons[layer], arch.intermediate))
    rule = "exact" if rules == {"exact"} else ", ".join(sorted(rules - {"exact"}))
    return Selection(kept_layers, heads, dims, neurons, top(importance.channels, arch.hidden), rule,
                     math.sqrt(arch.head_dim / teacher.head_dim))
