"""Leaderboard files: GLUE ``TASK.tsv`` (index, prediction) and SuperGLUE ``TASK.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from bort.tasks.spec import TaskSpec
from bort.util.io import write_text_atomic
from bort.util.run_dir import make_dirs


def write_submission(task: TaskSpec, records: list, out_dir: Path) -> Path:
    make_dirs(out_dir, "--submission")
    path = out_dir / task.submission
    if task.submission.endswith(".tsv"):
        text = "index\tprediction\n" + "".join(f"{i}\t{p}\n" for i, p in records)
    else:
        text = "".join(json.dumps(r) + "\n" for r in records)
    return write_text_atomic(path, text)
