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


def run(model: str, data: str, out: str, epochs: int, lr: float, sst2_train: int, max_len: int = 128,
        reference: dict[str, str] = PAPER_BORT, reference_name: str = "paper's Bort (Table 4)") -> str:
    """Fine-tune ``model`` on the five tasks; returns (and saves as OUT/results.md) the Markdown table."""
    from bort.tasks import get_task

    rows, total = [], 0.0
    for name in TASKS:
        task = get_task(name)
        started = time.perf_counter()
        result = finetune(FinetuneConfig(
            model=model, task=name, data=str(Path(data) / name.split("/")[1]),
            out=str(Path(out) / name.split("/")[1]), epochs=epochs, batch_size=32, lr=lr, warmup_ratio=0.06,
            max_len=max_len, patience=3, max_train_examples=sst2_train if name == "glue/SST-2" else None, seed=0),
            show_progress=False)
        seconds = time.perf_counter() - started
        total += seconds
        names = tuple(task.metrics)
        rows.append((name.split("/")[1], "/".join(names), fmt(result["dev"], names),
                     fmt(result["majority_baseline"], names), reference.get(name, "–"), result["train_examples"],
                     f"{seconds:.0f}"))
        print(json.dumps({"task": name, "dev": result["dev"], "baseline": result["majority_baseline"]}), flush=True)
    lines = [f"| task | metric | fine-tuned (dev) | majority class (dev) | {reference_name} | "
             "train examples | seconds |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    lines.append(f"\nModel `{model}`; {epochs} epochs at most, lr {lr}, batch 32, {max_len} tokens; "
                 f"{total / 60:.1f} min in all on {device_record('cpu').describe()}.")
    table = "\n".join(lines)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "results.md").write_text(table + "\n")
    return table


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
    print(run(args.model, args.data, args.out, args.epochs, args.lr, args.sst2_train))


if __name__ == "__main__":
    main()
