"""One θ's training: a plain, early-stopped fine-tuning run on Agora's D, selected on E.

A module-level function of plain data, so that it runs in this process, in a worker process or on
Ray alike (:mod:`bort.util.executors`), or in every process of a torchrun / accelerate launch at once.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.finetune.processes import is_main_process
from bort.tasks.example import Example


def as_records(examples: list[Example]) -> list[dict]:
    return [dataclasses.asdict(ex) for ex in examples]


def train_theta(config: dict, train: list[dict], dev: list[dict], threads: int | None = None) -> dict:
    """Fine-tune with ``config`` (a FinetuneConfig dict) on ``train``, early-stopped on ``dev`` (E); returns the
    best epoch's E metrics and E outputs. A run directory left by a killed attempt is started afresh: the
    training is a function of its inputs, so the rerun gives what the killed one would have."""
    from bort.measure.latency import torch_threads

    with torch_threads(threads or None):  # restored after: Θ may be trained in the caller's process
        return _train_theta(config, train, dev)


def _train_theta(config: dict, train: list[dict], dev: list[dict]) -> dict:
    import time

    cpu_started = time.process_time()  # the process's CPU time, all its threads: the cost a user pays
    cfg = FinetuneConfig.from_dict(config)
    out = Path(cfg.out)
    # Under torchrun the training is spread over every process: the main one alone deletes (Agora removed what a
    # killed attempt left before any of them started).
    main = is_main_process()
    if out.exists() and main:
        shutil.rmtree(out)
    result = finetune(cfg, show_progress=False, train=[Example(**r) for r in train], dev=[Example(**r) for r in dev])
    outputs = [json.loads(line)["output"] for line in (out / "dev_predictions.jsonl").read_text().splitlines()]
    if main:  # the best model stays; optimizer states are not needed
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return {"metrics": result["dev"], "best_epoch": result["best_epoch"], "epochs": len(result["history"]),
            "seconds": result["seconds"], "cpu_seconds": time.process_time() - cpu_started, "outputs": outputs}


def read_augmented(path: Path, soft_labels: bool = False) -> list[Example]:
    """An iteration's new points as training examples: labelled by Socrates' argmax, or with ``soft_labels``
    unlabelled (the trainings distil from Socrates' outputs on them)."""
    if not path.is_file():
        return []
    return [Example(uid=f"agora:{r['source']}", text_a=r["text_a"], text_b=r["text_b"],
                    label=None if soft_labels else r["label"])
            for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r.get("kept", True)]
