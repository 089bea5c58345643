"""Shared fixtures: offline mode, the real data beside the checkout, tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BORT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $BORT_SHARED_DATA): the real GLUE, text and BPE files."""
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}; set BORT_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture
def tiny_roberta_dir(tmp_path) -> Path:
    """A saved RoBERTa masked LM ⟨2,4,32,48⟩ with the real 50,265-token vocabulary."""
    from bort.architecture import Arch
    from bort.architecture.build import build_roberta

    model = build_roberta(Arch(2, 4, 32, 48), head="mlm", seed=0)
    model.save_pretrained(tmp_path / "tiny")
    return tmp_path / "tiny"
