"""Agora vs plain fine-tuning, both scored on the same held-out half of each task's dev set (H).

Agora's setting is scarce data: the student (Timaeus) sees --train-examples labelled examples of
the task, while Socrates, the real pretrained model (all-MiniLM-L6-v2) fine-tuned on the whole
training set and selected on E only, labels the perturbations of the student's mistakes. Agora's
first iteration trains every θ of Θ on the original data and selects on E: that is plain
fine-tuning's grid search, and its winner is the plain baseline (RUN/plain_best). Both are scored on
the same H. Everything is cached under --out; a rerun continues.

    python bench/agora_vs_plain.py [--student runs/models/all-MiniLM-L6-v2] [--train-examples 1000]
                                   [--phi-model runs/real-teacher/teacher]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bort.agora.config import AgoraConfig
from bort.agora.loop import agora
from bort.errors import BortError
from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.measure.device import device_record
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
# Θ for a 2-core CPU: two learning rates (weight decay and warm-up as the plain defaults).
THETA = [{"lr": lr, "weight_decay": 0.01, "warmup_ratio": 0.1, "seed": 0} for lr in (1e-4, 5e-5)]
SUBSET = {"glue/SST-2": 4000, "glue/CoLA": 4000}  # Socrates' training examples (else the whole training set)
MAX_LEN = {"glue/SST-2": 64}


def socrates_for(task: str, data: Path, model: str, out: Path) -> Path:
    """The real model fine-tuned on the task, selected on E (the same seeded half of dev Agora selects on)."""
    if not (out / "metrics.json").is_file():
        finetune(FinetuneConfig(model=model, task=task, data=str(data), out=str(out), epochs=2, lr=5e-5,
                                max_len=MAX_LEN.get(task), max_train_examples=SUBSET.get(task), holdout_fraction=0.5,
                                seed=0))
    return out


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", default=str(REPO / "runs" / "models" / "all-MiniLM-L6-v2"),
                        help="the student (Timaeus): a pre-trained encoder directory")
    parser.add_argument("--train-examples", type=int, default=1000, help="the student's labelled examples")
    parser.add_argument("--socrates-from", default=str(REPO / "runs" / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--phi-model", help="the masked LM mlm-replace samples from (default: the student)")
    parser.add_argument("--tasks", nargs="+", default=["glue/SST-2", "glue/MRPC", "glue/CoLA", "glue/RTE"])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-iterations", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "runs" / "agora-bench"))
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    theta_file = out / "theta.json"
    theta_file.write_text(json.dumps(THETA))
    rows, refused = [], []
    for task in args.tasks:
        data = Path(args.data) / task
        name = task.split("/")[1]
        socrates = socrates_for(task, data, args.socrates_from, out / "socrates" / name)
        try:
            result = agora(AgoraConfig(method="agora", model=args.student, socrates=str(socrates), task=task,
                                   data=str(data), out=str(out / "agora" / name), theta=str(theta_file),
                                   epochs=args.epochs, batch_size=16, max_len=MAX_LEN.get(task),
                                   max_train_examples=args.train_examples, phi_model=args.phi_model,
                                   max_iterations=args.max_iterations, seed=0))
        except BortError as exc:  # e.g. a Socrates below 2/3 on E: Agora refuses it, and the table says so
            print(f"{task}: {exc}", flush=True)
            refused.append((task, str(exc)))
            continue
        rows.append(result)
        metric = next(iter(result["held_out_metrics"]))
        print(f"{task}: H {metric} Agora {result['held_out_metrics'][metric]:.4f} vs plain "
              f"{result['plain_grid']['held_out_metrics'][metric]:.4f}; Socrates "
              f"{result['socrates']['held_out_metrics'][metric]:.4f}", flush=True)

    print(f"\nstudent {args.student} on {args.train_examples} examples per task; Socrates: "
          f"{Path(args.socrates_from).name} fine-tuned on the whole training set (SST-2: 4,000); Θ = {len(THETA)} sets "
          f"(lr 1e-4, 5e-5), {args.epochs} epochs each, ≤{args.max_iterations} Agora iterations, "
          f"φ = mlm-replace ({args.phi_model or 'the student'}); {device_record('cpu').describe()}\n")
    print("| task | H metric | plain (best of Θ on E) | Agora | Socrates | majority | plain: trainings, min | "
          "Agora: trainings, min | points added | CHS |")  # min: training minutes (plain) and all minutes (Agora)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        for metric in r["held_out_metrics"]:
            chs = r["chs"]
            print(f"| {r['task']} | {metric} | {r['plain_grid']['held_out_metrics'][metric]:.4f} | "
                  f"{r['held_out_metrics'][metric]:.4f} | {r['socrates']['held_out_metrics'][metric]:.4f} | "
                  f"{r['held_out_majority_baseline'][metric]:.4f} | {r['plain_grid']['trainings']}, "
                  f"{r['plain_grid']['training_seconds'] / 60:.1f} | {r['trainings']}, {r['seconds'] / 60:.1f} | "
                  f"{r['augmented_examples']} | lr {chs['lr']:g}, seed {chs['seed']} |")
    for task, reason in refused:
        print(f"| {task} | refused: {reason} |||||||||")


if __name__ == "__main__":
    main()
