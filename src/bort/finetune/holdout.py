"""The official dev set split into E (what a run selects on) and H (what it is scored on, unseen).

Early stopping reads the dev set and Agora learns from its mistakes, so a score either selected on
is not a held-out score. H is drawn per label (stratified; STS-B by rounded score), seeded, and by
whole question for the tasks cast as pairs (COPA, MultiRC, ReCoRD, RACE), so that a question's
options never straddle the two sets.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from bort.errors import BortError
from bort.tasks.example import Example
from bort.tasks.spec import TaskSpec


def _stratum(task: TaskSpec, examples: list[Example]):
    """The stratum of a unit (a list of examples scored together): its label, its rounded score, or one for all."""
    if task.kind == "classification":
        return examples[0].label
    if task.kind == "regression":
        return round(examples[0].label)
    return "question"


def split_dev(task: TaskSpec, dev: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(E, H): about ``fraction`` of each stratum in H, the rest in E, both in the file's order."""
    units: dict = defaultdict(list)
    for index, ex in enumerate(dev):
        units[ex.group if task.kind in ("choice", "multirc") else index].append(index)
    strata: dict = defaultdict(list)
    for key, members in units.items():
        strata[_stratum(task, [dev[i] for i in members])].append(key)
    rng = random.Random(seed)
    held: set[int] = set()
    for stratum in sorted(strata, key=str):
        keys = strata[stratum]
        rng.shuffle(keys)
        for key in keys[:round(len(keys) * fraction)]:
            held.update(units[key])
    e = [ex for i, ex in enumerate(dev) if i not in held]
    h = [ex for i, ex in enumerate(dev) if i in held]
    if not e or not h:
        raise BortError(f"--holdout-fraction {fraction} leaves {'E' if not e else 'H'} empty ({len(dev)} dev examples "
                        f"of {task.name}); choose a fraction between 0 and 1 that leaves both sets examples")
    return e, h


def read_holdout(task: TaskSpec, path: str | Path) -> list[Example]:
    """H from a labelled file in the format of the task's dev file."""
    path = Path(path)
    if not path.is_file():
        raise BortError(f"--holdout {path} does not exist (expected a labelled file like {task.files.get('dev')})")
    examples = task.reader(path, "dev")
    if not examples or any(ex.label is None for ex in examples):
        raise BortError(f"--holdout {path}: expected labelled examples of {task.name}")
    return examples


def select_and_hold_out(task: TaskSpec, dev: list[Example], fraction: float, holdout: str | None,
                        seed: int) -> tuple[list[Example], list[Example]]:
    """(E, H) as the flags ask: H from ``holdout`` (E: all of dev), or ``fraction`` of dev (H empty at 0)."""
    if holdout:
        return dev, read_holdout(task, holdout)
    if fraction > 0:
        return split_dev(task, dev, fraction, seed)
    return dev, []


def describe(fraction: float, holdout: str | None, e: list, h: list) -> dict[str, str]:
    """What metrics.json says about where each number comes from."""
    if holdout:
        return {"selected_on": f"the official dev set ({len(e)} examples)",
                "held_out": f"{holdout} ({len(h)} examples, never selected on)"}
    return {"selected_on": f"E: {len(e)} examples of the official dev set",
            "held_out": f"H: the other {len(h)} ({fraction:.0%} of dev, stratified, seeded), never selected on"}
