"""Dev scores of one model on five GLUE tasks, beside majority-class baselines and the paper's Bort.

Fine-tunes MODEL_DIR (plain fine-tuning) on RTE, MRPC, CoLA, STS-B and SST-2 (a training subset
for SST-2) from ../shared/data/glue, and prints a Markdown table with the compute used.

    python bench/glue_small.py runs/quickstart/student [--epochs 3] [--sst2-train 8000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.measure.device import device_record
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
# Bort's dev/test figures as printed in the paper's Table 4 (GLUE test server; F1/acc, Pearson/Spearman).
PAPER_BORT = {"glue/RTE": "82.7", "glue/MRPC": "94.1/92.3", "glue/CoLA": "63.9", "glue/STS-B": "89.2/88.3",
              "glue/SST-2": "96.2"}
TASKS = ["glue/RTE", "glue/MRPC", "glue/CoLA", "glue/STS-B", "glue/SST-2"]


def fmt(metrics: dict, names: tuple[str, ...]) -> str:
    return "/".join(f"{100 * metrics[n]:.1f}" for n in names)


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "glue"))
    parser.add_argument("--out", default="runs/glue-small")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sst2-train", type=int, default=8000)
    args = parser.parse_args()

    from bort.tasks import get_task

    rows, total = [], 0.0
    for name in TASKS:
        task = get_task(name)
        started = time.perf_counter()
        result = finetune(FinetuneConfig(
            model=args.model, task=name, data=str(Path(args.data) / name.split("/")[1]),
            out=str(Path(args.out) / name.split("/")[1]), epochs=args.epochs, batch_size=32, lr=args.lr, warmup_ratio=0.06,
            max_len=128, patience=3,
            max_train_examples=args.sst2_train if name == "glue/SST-2" else None, seed=0), show_progress=False)
        seconds = time.perf_counter() - started
        total += seconds
        names = tuple(task.metrics)
        rows.append((name.split("/")[1], "/".join(names), fmt(result["dev"], names), fmt(result["majority_baseline"], names),
                     PAPER_BORT[name], result["train_examples"], f"{seconds:.0f}"))
        print(json.dumps({"task": name, "dev": result["dev"], "baseline": result["majority_baseline"]}))
    lines = ["| task | metric | fine-tuned (dev) | majority class (dev) | paper's Bort (Table 4) | train examples | seconds |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    lines.append(f"\nModel `{args.model}`; {args.epochs} epochs at most, lr {args.lr}, batch 32, 128 tokens; "
                 f"{total / 60:.1f} min in all on {device_record('cpu').describe()}.")
    table = "\n".join(lines)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
