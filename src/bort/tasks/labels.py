"""A fine-tuned classifier's output columns matched to a task's classes, by name."""

from __future__ import annotations

from pathlib import Path

from bort.errors import BortError
from bort.tasks.custom import class_names
from bort.tasks.spec import TaskSpec


def label_order(config, task: TaskSpec, model_dir: str | Path = "the model") -> list[int] | None:
    """For each of the task's labels, the model's output column that predicts it; None when they agree.

    A model fine-tuned elsewhere names its classes in ``id2label`` in its own order (roberta-large-mnli:
    CONTRADICTION, NEUTRAL, ENTAILMENT). Names are matched case-insensitively; generic names
    (``LABEL_0``, ...) are taken to follow the task's order, and so are any names when the task's labels are
    bare indices ("0", "1": SST-2, CoLA, MRPC), which no name can be matched to; anything else is refused.
    """
    if task.kind != "classification" or not task.labels:
        return None
    names = [name.lower() for name in class_names(config)]
    if names == [f"label_{i}" for i in range(len(names))]:
        return None
    wanted = [label.lower() for label in task.labels]
    if wanted == [str(i) for i in range(len(wanted))] and len(names) == len(wanted) and sorted(names) != sorted(wanted):
        return None
    if sorted(names) != sorted(wanted):
        raise BortError(f"{model_dir}: its labels {names} (config.json id2label) do not match {task.name}'s "
                        f"{list(task.labels)}")
    order = [names.index(label) for label in wanted]
    return None if order == list(range(len(order))) else order
