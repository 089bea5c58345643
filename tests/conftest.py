"""Shared fixtures: offline mode, the real data beside the checkout, tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BORT_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_sessionstart(session) -> None:
    # Missing data is an error, never a silent skip: a suite that skips its real-data tests is not green.
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.exit(f"the real data is missing: expected {SHARED_DATA} (../shared/data beside the checkout, "
                    "with SOURCES.md); set BORT_SHARED_DATA to where it is", returncode=3)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $BORT_SHARED_DATA): the real GLUE, text and BPE files."""
    return SHARED_DATA


@pytest.fixture
def tiny_roberta_dir(tmp_path) -> Path:
    """A saved RoBERTa masked LM ⟨2,4,32,48⟩ with the real 50,265-token vocabulary."""
    from bort.architecture import Arch
    from bort.architecture.build import build_roberta

    model = build_roberta(Arch(2, 4, 32, 48), head="mlm", seed=0)
    model.save_pretrained(tmp_path / "tiny")
    return tmp_path / "tiny"
