"""Where each task's folder sits in an official benchmark download."""

from __future__ import annotations

from pathlib import Path

from bort.tasks.registry import TASKS
from bort.tasks.spec import TaskSpec

FOLDER = {"glue/MNLI-m": "MNLI", "glue/MNLI-mm": "MNLI", "glue/AX": "diagnostic", "race/middle": "RACE",
          "race/high": "RACE"}


def folder_name(task: TaskSpec) -> str:
    """The name of the task's folder in its benchmark's download: ``RTE``, ``MNLI`` (both MNLI tasks), ``RACE``…"""
    return FOLDER.get(task.name, task.name.split("/")[1])


def task_folder(task: TaskSpec, benchmark_dir: Path) -> Path:
    """``GLUE_DIR/RTE``, ``GLUE_DIR/MNLI`` (both MNLI tasks), ``GLUE_DIR/diagnostic`` (AX), ``SUPERGLUE_DIR/CB``…"""
    return Path(benchmark_dir) / folder_name(task)


def run_name(task: TaskSpec) -> str:
    """The sub-folder of a runs directory that holds the model fine-tuned for ``task`` (``MNLI`` for both MNLI)."""
    return FOLDER.get(task.name, task.name.split("/")[1]) if task.name.startswith("glue/MNLI") \
        else task.name.split("/")[1]


def benchmark_tasks(benchmark: str) -> list[TaskSpec]:
    return [t for t in TASKS.values() if t.benchmark == benchmark]
