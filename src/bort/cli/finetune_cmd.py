"""``bort finetune``: fine-tune any local encoder checkpoint on a GLUE, SuperGLUE or RACE task, plainly or \
with Agora."""

from __future__ import annotations

from bort.api import FinetuneCommandConfig, finetune
from bort.config import HelpFormatter, add_options
from bort.finetune.defaults import more_epochs
from bort.finetune.processes import is_main_process

DESCRIPTION = """\
Plain fine-tuning (--method plain): a classifier (or, for STS-B, a regressor) on the first token of
any local Hugging Face encoder checkpoint; AdamW with weight decay (none on biases and LayerNorms),
linear warm-up and decay, gradient clipping, dropout, seeds, and early stopping on the task's dev
metric. Multiple-choice and QA tasks (COPA, MultiRC, ReCoRD, RACE) are cast as binary
(context + question, answer) pairs; --balance discards negatives to balance them, as the paper did.
Without --lr and --epochs, both are chosen for the model's size (BERT-base: 5e-5 and 3 epochs; a
small student more of each).

Task distillation (--teacher FINETUNED_DIR, for a student): the student learns the task from the
fine-tuned teacher's outputs as well as the gold labels, α·τ²·KL(teacher ‖ student) + (1 − α)·CE
(Hinton et al. 2015; the task-specific stage of TinyBERT and DistilBERT). The teacher's outputs are
computed once per distinct input and cached in the run directory. --augment N adds N perturbed copies
of each training input and --unlabeled FILE your own inputs without labels, both labelled by the
teacher alone. Under torchrun / accelerate launch, --batch-size is the global batch.

Agora (--method agora, the paper's fine-tuning): every hyperparameter set θ of Θ (--theta) is a
plain, early-stopped fine-tuning run on D, selected on E; the best model's mistakes on E are
perturbed by φ (--phi), labelled by Socrates (--socrates, a stronger model fine-tuned on the task)
and added to D; Θ is pruned; until Θ is empty or a budget is spent. The best model seen is kept; its
θ is the convergent hyperparameter set. Each θ sets a training's lr, weight decay, warm-up and
seed; --seed seeds the E/H split and φ.
Trainings run one after another, side by side (--workers N, --ray), or each spread over the
processes of a torchrun / accelerate launch.

Re-running the same command (plain or Agora) after an interruption continues the run from its last
finished epoch or training; a changed setting is refused, and --restart starts over.

Held-out scores: early stopping reads the dev set, and Agora learns from its mistakes, so neither
score is held out. --holdout-fraction splits the official dev set into E (selected on) and H
(scored once, at the end); Agora does so by default (half of dev). metrics.json says which set
each number comes from.

TASK_DIR is the task's folder exactly as the official download lays it out (…/glue/RTE,
…/superglue/CB, …/RACE). The run directory receives the best model as an HF
AutoModelForSequenceClassification directory (Agora's: RUN_DIR/best), metrics.json, and for plain
runs dev_predictions.jsonl and finetune_config.json; for Agora runs agora_log.jsonl, iterations.jsonl,
theta_trace.csv, augmented/iteration-K.jsonl, held_out_predictions.jsonl, agora.png and report.md."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune on GLUE, SuperGLUE, RACE or your own task (plain, distilled "
                              "from a fine-tuned teacher, or Agora)",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, FinetuneCommandConfig)  # fine-tuning's flags and Agora's, each from its own stage's config
    p.set_defaults(run=run, config_class=FinetuneCommandConfig)


def run(cfg: FinetuneCommandConfig) -> int:
    from bort.util.table import format_table

    tuned = finetune(cfg)  # the one switch between the methods (Agora's flags with --method plain refused there)
    result = tuned.raw
    if not is_main_process():  # under torchrun / accelerate launch the main process reports
        return 0
    if tuned.method == "agora":
        rows = [[name, f"{value:.4f}", f"{result['plain_grid']['held_out_metrics'][name]:.4f}",
                 f"{result['held_out_majority_baseline'].get(name, float('nan')):.4f}",
                 f"{result['socrates']['held_out_metrics'].get(name, float('nan')):.4f}"]
                for name, value in result["held_out_metrics"].items()]
        print(format_table(["H metric", "Agora", "plain (same Θ)", "majority class", "Socrates"], rows))
        chs = result["chs"]
        print(f"CHS lr {chs['lr']:g}, weight decay {chs['weight_decay']:g}, warm-up {chs['warmup_ratio']:g}, seed "
              f"{chs['seed']}; {result['iterations']} iterations, {result['trainings']} trainings; best model in "
              f"{cfg.out}/best, report in {cfg.out}/report.md")
        return 0
    dev, base = result["dev"], result["majority_baseline"]
    rows = [[name, f"{dev[name]:.4f}", f"{base.get(name, float('nan')):.4f}"] for name in base]
    print(format_table(["dev metric (selected on)" if "held_out_metrics" not in result else "E metric (selected on)",
                        "fine-tuned", "majority class"], rows))
    if "held_out_metrics" in result:
        held, base = result["held_out_metrics"], result["held_out_majority_baseline"]
        print(format_table(["H metric (held out)", "fine-tuned", "majority class"],
                           [[name, f"{held[name]:.4f}", f"{base.get(name, float('nan')):.4f}"] for name in held]))
    print(f"best epoch {result['best_epoch']} of {len(result['history'])}; model saved to {cfg.out}")
    if "more_epochs" in result:
        print(f"note: {result['more_epochs']} (--epochs {more_epochs(result['epochs'])})")
    return 0
