"""``bort finetune``: fine-tune any local encoder checkpoint on a GLUE, SuperGLUE or RACE task."""

from __future__ import annotations

import argparse

from bort.finetune.config import FinetuneConfig

DESCRIPTION = """\
Plain fine-tuning (--method plain): a classifier (or, for STS-B, a regressor) on the first token of
any local Hugging Face encoder checkpoint; AdamW with weight decay (none on biases and LayerNorms),
linear warm-up and decay, gradient clipping, dropout, seeds, and early stopping on the task's dev
metric. Multiple-choice and QA tasks (COPA, MultiRC, ReCoRD, RACE) are cast as binary
(context + question, answer) pairs; --balance discards negatives to balance them, as the paper did.

TASK_DIR is the task's folder exactly as the official download lays it out (…/glue/RTE,
…/superglue/CB, …/RACE). The run directory receives the best model as an HF
AutoModelForSequenceClassification directory, metrics.json (per-epoch dev metrics, the
majority-class baseline), dev_predictions.jsonl and finetune_config.json."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune on GLUE, SuperGLUE or RACE", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    d = FinetuneConfig()
    p.add_argument("--method", choices=["plain"], default="plain", help="plain fine-tuning (default)")
    p.add_argument("--model", required=True, metavar="MODEL_DIR", help="a local HF encoder checkpoint")
    p.add_argument("--task", required=True, help="e.g. glue/RTE, superglue/CB, race/high (see `bort evaluate --list`)")
    p.add_argument("--data", required=True, metavar="TASK_DIR", help="the task's official folder")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory")
    p.add_argument("--epochs", type=int, default=d.epochs, help="at most this many epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="(default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="(default: %(default)s)")
    p.add_argument("--warmup", type=float, default=d.warmup, help="warm-up share of the steps (default: %(default)s)")
    p.add_argument("--clip", type=float, default=d.clip, help="gradient-norm clipping, 0 for none (default: 1.0)")
    p.add_argument("--max-len", type=int, default=d.max_len, help="tokens per example (default: %(default)s)")
    p.add_argument("--dropout", type=float, default=d.dropout, help="(default: %(default)s)")
    p.add_argument("--head-init", type=float, help="draw the head's weights from U(-a, a) (the paper: 0.5)")
    p.add_argument("--patience", type=int, default=d.patience, help="epochs without improvement before stopping")
    p.add_argument("--max-train-examples", type=int, help="train on a seeded subset of this size")
    p.add_argument("--balance", action="store_true", help="balance binary-cast QA tasks by discarding negatives")
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.set_defaults(run=run)


def run(args) -> int:
    from bort.finetune.plain import finetune
    from bort.util.table import format_table

    fields = FinetuneConfig.__dataclass_fields__
    cfg = FinetuneConfig(**{k: v for k, v in vars(args).items() if k in fields})
    result = finetune(cfg)
    dev, base = result["dev"], result["majority_baseline"]
    rows = [[name, f"{dev[name]:.4f}", f"{base.get(name, float('nan')):.4f}"] for name in base]
    print(format_table(["dev metric", "fine-tuned", "majority class"], rows))
    print(f"best epoch {result['best_epoch']} of {len(result['history'])}; model saved to {cfg.out}")
    return 0
