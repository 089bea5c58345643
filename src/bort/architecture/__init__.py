"""The BERT family ⟨D,A,H,I⟩: the tuple, search spaces, exact counting, Hugging Face configs."""

from bort.architecture.arch import Arch
from bort.architecture.counting import ParamBreakdown, Vocab, count_params, flops_per_sequence
from bort.architecture.space import PAPER_SPACE, SearchSpace

__all__ = ["Arch", "ParamBreakdown", "Vocab", "count_params", "flops_per_sequence", "PAPER_SPACE", "SearchSpace"]
