"""Imports point down the pipeline: no stage imports a sibling stage, no library module the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "bort"

# Lower numbers sit lower; a module may import its own unit and anything strictly below it.
LEVELS = {
    "errors": 0, "util": 1, "config": 2, "architecture": 3, "tokenizer": 3, "data": 3,
    "checkpoint": 3.5,  # loading and saving model directories: below every user of a model (tasks' φ included)
    "distill": 3.8,  # the losses, hooks, layer map and projection every distilling stage shares (mlm's KD included)
    "mlm": 4, "training": 4, "tasks": 4, "measure": 4,
    "model_card": 4,  # writing the README.md beside every model directory; each stage's card is its own card.py
    "extract": 4.5,  # below every stage that starts from an extracted student (search, pretrain), above its tools
    "search": 5, "pretrain": 5, "finetune": 5, "inference": 5,
    "agora": 6,  # Agora trains each hyperparameter set with fine-tuning's recipe: a stage built on that stage
    "api": 6.5,  # every stage as a function of its config (bort.search(SearchConfig(...)), ...)
    "pipeline": 6.8,  # the stages in order, through the API
    "quickstart": 7, "cli": 8,
}


def unit_of(path: Path) -> str:
    """``search`` for src/bort/search/runner.py, ``checkpoint`` for src/bort/checkpoint.py."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


def bort_imports(path: Path) -> set[str]:
    """The bort units a module imports, at the top or inside functions alike."""
    units = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names] if node.module == "bort" \
                else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "bort" and len(parts) > 1:
                units.add(parts[1])
    return units


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if unit_of(p) != "__init__")


def test_every_unit_has_a_level():
    assert {unit_of(p) for p in MODULES} <= set(LEVELS), {unit_of(p) for p in MODULES} - set(LEVELS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    unit = unit_of(path)
    upward = sorted(u for u in bort_imports(path) - {unit, "__version__"}
                    if u in LEVELS and LEVELS[u] >= LEVELS[unit])
    assert not upward, f"{path.relative_to(PACKAGE)} ({unit}, level {LEVELS[unit]}) imports {upward}"
