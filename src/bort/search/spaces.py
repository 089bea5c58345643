"""Search-space presets, and search spaces read from YAML or JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from bort.architecture import PAPER_SPACE, SearchSpace
from bort.architecture.counting import Vocab
from bort.errors import BortError

PRESETS: dict[str, SearchSpace] = {
    # The paper's: 6 × 4 × 3 × 5 = 360 tuples, 300 valid, even depths.
    "paper": PAPER_SPACE,
    # Laptop-sized spaces: the same shape of question at a scale a CPU answers in minutes.
    "cpu-small": SearchSpace(depths=(2, 4), heads=(4, 8), hiddens=(128, 256), intermediates=(256, 512, 1024),
                             even_depth=True),
    "tiny": SearchSpace(depths=(1, 2), heads=(2, 4), hiddens=(64, 128), intermediates=(128, 256)),
    # Students a 6-layer, 384-wide teacher (all-MiniLM-L6-v2) holds, for --init extract: 12 tuples, most with its
    # head size of 32 (heads kept whole); ⟨·,8,384,·⟩'s heads of 48 take their dimensions across teacher heads.
    "minilm": SearchSpace(depths=(2, 3), heads=(8, 12), hiddens=(256, 384), intermediates=(512, 1024)),
}


def load_space(spec: str, vocab: Vocab) -> SearchSpace:
    """A preset name, or a YAML/JSON file with ``depths``, ``heads``, ``hiddens``, ``intermediates``."""
    if spec in PRESETS:
        return SearchSpace.from_dict(PRESETS[spec].to_dict(), vocab)
    path = Path(spec)
    if not path.is_file():
        raise BortError(f"--space {spec!r} is neither a preset ({', '.join(PRESETS)}) nor an existing file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # YAML and JSON parsers raise their own error types
        raise BortError(f"cannot parse search space {path}: {str(exc).splitlines()[0]}")
    if not isinstance(data, dict):
        raise BortError(f"search space {path} must be a mapping with depths, heads, hiddens, intermediates")
    try:
        return SearchSpace.from_dict(data, vocab)
    except BortError as exc:
        raise BortError(f"{path}: {exc}")
