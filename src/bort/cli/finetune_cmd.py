"""``bort finetune``: fine-tune any local encoder checkpoint on a GLUE, SuperGLUE or RACE task."""

from __future__ import annotations

from bort.config import HelpFormatter, add_options
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
                              formatter_class=HelpFormatter)
    add_options(p, FinetuneConfig)
    p.set_defaults(run=run, config_class=FinetuneConfig)


def run(cfg: FinetuneConfig) -> int:
    from bort.finetune.plain import finetune
    from bort.util.table import format_table

    result = finetune(cfg)
    dev, base = result["dev"], result["majority_baseline"]
    rows = [[name, f"{dev[name]:.4f}", f"{base.get(name, float('nan')):.4f}"] for name in base]
    print(format_table(["dev metric", "fine-tuned", "majority class"], rows))
    print(f"best epoch {result['best_epoch']} of {len(result['history'])}; model saved to {cfg.out}")
    return 0
