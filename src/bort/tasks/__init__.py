"""GLUE, SuperGLUE and RACE: readers for the official files, casting, metrics, submission files."""

from bort.tasks.registry import TASKS, get_task

__all__ = ["TASKS", "get_task"]
