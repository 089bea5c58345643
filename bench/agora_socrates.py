"""Socrates for the Agora benchmark: the real teacher (all-MiniLM-L6-v2) fine-tuned on each task's training set.

Socrates must not have been selected on any part of the official dev set: the benchmark's seeds split
dev into different E/H halves, and a Socrates chosen on one seed's E would have read another seed's H.
So its early stopping reads a seeded slice of the *training* set (--select-examples, held out of its
training), and dev is never touched. Each task's Socrates is cached under OUT/NAME.

    python bench/agora_socrates.py [--tasks glue/SST-2 ...] [--out runs/agora-bench/socrates]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.tasks import get_task
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
MAX_LEN = {"glue/SST-2": 64, "glue/CoLA": 64}
MAX_TRAIN = {"glue/SST-2": 3000, "glue/CoLA": 3000}  # the larger training sets, cut to fit a CPU budget


def socrates(task: str, data: Path, model: str, out: Path, select_examples: int = 300, epochs: int = 2) -> Path:
    """Fine-tune ``model`` on ``task``'s training set minus a seeded selection slice; returns the model directory."""
    if (out / "metrics.json").is_file():
        return out
    spec = get_task(task)
    train = spec.read(data, "train")
    random.Random(12345).shuffle(train)
    select, train = train[:select_examples], train[select_examples:]
    train = train[:MAX_TRAIN.get(task, len(train))]
    finetune(FinetuneConfig(model=model, task=task, data=str(data), out=str(out), epochs=epochs, lr=5e-5,
                            max_len=MAX_LEN.get(task), holdout_fraction=0.0, seed=0, patience=epochs),
             train=train, dev=select)
    return out


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["glue/SST-2", "glue/MRPC", "glue/CoLA", "glue/RTE"])
    parser.add_argument("--model", default=str(REPO / "runs" / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(REPO / "runs" / "agora-bench" / "socrates"))
    args = parser.parse_args()
    for task in args.tasks:
        out = socrates(task, Path(args.data) / task, args.model, Path(args.out) / task.split("/")[1])
        metrics = json.loads((out / "metrics.json").read_text())
        print(f"{task}: Socrates on its selection slice {metrics['dev']}", flush=True)


if __name__ == "__main__":
    main()
