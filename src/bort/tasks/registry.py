"""Every task bort reads, by name (``glue/RTE``, ``superglue/CB``, ``race/high``, ...)."""

from __future__ import annotations

from functools import partial

from bort.errors import BortError
from bort.tasks.glue import GLUE_TASKS
from bort.tasks.race import read_race
from bort.tasks.spec import QA_MAX_LEN, TaskSpec
from bort.tasks.superglue import SUPERGLUE_TASKS

RACE_SPLITS = {"train": "train", "dev": "dev", "test": "test"}
RACE_TASKS = [
    TaskSpec("race/middle", "choice", RACE_SPLITS, partial(read_race, level="middle"), ("accuracy",), "RACE-M.jsonl",
             max_len=QA_MAX_LEN),
    TaskSpec("race/high", "choice", RACE_SPLITS, partial(read_race, level="high"), ("accuracy",), "RACE-H.jsonl",
             max_len=QA_MAX_LEN),
]

TASKS: dict[str, TaskSpec] = {t.name: t for t in GLUE_TASKS + SUPERGLUE_TASKS + RACE_TASKS}
ALIASES = {"glue/MNLI": "glue/MNLI-m", "glue/SST2": "glue/SST-2", "glue/STSB": "glue/STS-B",
           "race/RACE-M": "race/middle", "race/RACE-H": "race/high"}


def get_task(name: str) -> TaskSpec:
    key = ALIASES.get(name, name)
    if key not in TASKS:
        lowered = {k.lower(): k for k in TASKS}
        if key.lower() in lowered:
            return TASKS[lowered[key.lower()]]
        raise BortError(f"unknown task {name!r}; expected one of: {', '.join(TASKS)}")
    return TASKS[key]
