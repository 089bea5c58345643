"""A pipeline file checked whole before its first folder is made: a mistake anywhere in it costs one line, not the
hour the stages before the mistake take, and leaves nothing behind.

Each stage's options already built its config (:func:`bort.pipeline.stages.plan`); here, what a config cannot know
alone: every task name resolves, every path the user gave exists (a misspelled ``{placeholder}`` is named as one),
every model directory the user gave loads its ``config.json``, and every custom task's files read.
"""

from __future__ import annotations

import dataclasses
import glob
import re
from pathlib import Path

from bort.errors import BortError
from bort.pipeline.stages import Stage

# The options that are always paths (a stage's own outputs and earlier stages' models among them; those are skipped).
PATH_FIELDS = ("corpus", "data", "train", "dev", "test", "holdout", "teacher", "init", "model", "model_dir",
               "socrates", "phi_model", "scores", "student_config", "unlabeled", "cache_dir", "tokenizer")
GLOB_FIELDS = ("corpus",)  # a corpus may be a glob (data/*.txt), as on the command line
# The options that are a model directory: its config.json must load.
MODEL_FIELDS = ("teacher", "init", "model", "model_dir", "socrates", "phi_model")
# Options that are a preset's name or a file (space: minilm, theta: cpu-small): a file only when it looks like one.
NAME_OR_FILE_FIELDS = ("space", "theta")
# Paths the pipeline does not check for existence: they are written, not read.
WRITTEN_FIELDS = ("cache_dir",)
PLACEHOLDER = re.compile(r"\{[^{}/]*\}")


def _values(stage: Stage, name: str) -> list[str]:
    """The option's value(s) as given, less a value among its choices (search's ``init: extract`` is no path)."""
    fields = {f.name: f for f in dataclasses.fields(stage.config)}
    if name not in fields:
        return []
    value, choices = getattr(stage.config, name), fields[name].metadata.get("choices") or ()
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v and v not in choices]


def _made_by_the_pipeline(value: str, out: Path) -> bool:
    """An earlier stage's output (``out/extract``, ``out/search/best/config.json``): it does not exist yet."""
    path = Path(value).resolve()
    return path == out or out in path.parents


def check_paths(stages: list[Stage], out: Path, source: str) -> None:
    """Every path a stage reads that the user gave exists; a leftover ``{placeholder}`` is named as one."""
    for stage in stages:
        names = [*PATH_FIELDS, *(n for n in NAME_OR_FILE_FIELDS
                                 if any("/" in v or Path(v).suffix for v in _values(stage, n)))]
        for name in names:
            for value in _values(stage, name):
                if _made_by_the_pipeline(value, out):
                    continue
                placeholder = PLACEHOLDER.search(value)
                if placeholder:
                    raise BortError(f"{source}: {stage.name}: {name} {value!r} holds the unknown placeholder "
                                    f"{placeholder.group()}; the one placeholder is {{bort_data}} (the data shipped "
                                    "with bort)")
                if name in GLOB_FIELDS and glob.has_magic(value):
                    if not glob.glob(value, recursive=True):
                        raise BortError(f"{source}: {stage.name}: {name} {value} matches no file")
                elif name not in WRITTEN_FIELDS and not Path(value).exists():
                    raise BortError(f"{source}: {stage.name}: {name} {value} does not exist")


def check_models(stages: list[Stage], out: Path, source: str) -> None:
    """Every model directory the user gave (the teacher, a Socrates, a φ model) loads its config."""
    from bort.checkpoint import load_config

    checked: set[str] = set()
    for stage in stages:
        for name in MODEL_FIELDS:
            for value in _values(stage, name):
                if value in checked or _made_by_the_pipeline(value, out):
                    continue
                try:
                    load_config(value)
                except BortError as exc:
                    raise BortError(f"{source}: {stage.name}: {name}: {exc}")
                checked.add(value)


def check_tasks(stages: list[Stage], source: str) -> None:
    """Every task name resolves, and each task's files read (a benchmark's train and dev, a custom task's files with
    their columns): the whole files, now, not after the stages before the task."""
    from bort.tasks import get_task
    from bort.tasks.custom import CUSTOM, custom_task

    read: set[tuple[str, str]] = set()  # a task's teacher and student read the same files: once is enough
    for stage in stages:
        if stage.command != "finetune":
            continue
        if stage.config.task != CUSTOM:
            try:
                task = get_task(stage.config.task)
            except BortError as exc:
                raise BortError(f"{source}: {stage.name}: {exc}")
            if (task.name, stage.config.data) not in read:
                for split in ("train", "dev"):
                    task.read(Path(stage.config.data), split)
                read.add((task.name, stage.config.data))
            continue
        task = custom_task(stage.config)
        for split in stage.config.custom_files():
            task.read("", split)


def preflight(stages: list[Stage], out: str | Path, source: str) -> None:
    """The whole pipeline checked; raises :class:`BortError` (one line) at the first mistake, having written
    nothing."""
    out = Path(out).resolve()
    check_paths(stages, out, source)
    check_tasks(stages, source)
    check_models(stages, out, source)
