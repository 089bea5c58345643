"""The model cards of an Agora run's ``best/`` and ``plain_best/``: the held-out scores, the iterations and
Socrates' additions (or the plain grid over the same Θ), and the convergent hyperparameter set.

Beside the loop rather than in :mod:`bort.model_card` because it reads :class:`~bort.agora.config.AgoraConfig`'s
settings and the run's result: the card writer below knows no stage.
"""

from __future__ import annotations

from pathlib import Path

from bort.checkpoint import model_name
from bort.model_card import (
    arch_tuple,
    carried_latency,
    metric_results,
    read_config,
    task_datasets,
    usage_text,
    write_card,
)


def agora_card(out: str | Path, cfg, task, result: dict, which: str, info: dict, command: str | None = None) -> Path:
    """The card of Agora's ``best/`` (``which`` "agora") or ``plain_best/`` (``which`` "plain"); ``info`` is the
    directory's ``agora_best.json``."""
    out = Path(out)
    theta = info.get("hyperparameters") or {}
    held = result["held_out_metrics"] if which == "agora" else result["plain_grid"]["held_out_metrics"]
    evals, table = metric_results(task, held, "validation", "held-out H, never selected on", "held-out H")
    majority = result["held_out_majority_baseline"]
    results = table + ["", f"E (selected on): {result['e_metric']} {info.get('score', float('nan')):.4f}; majority "
                       "class on H: " + ", ".join(f"{k} {v:.4f}" for k, v in majority.items() if k in task.metrics)
                       + "; all figures in `../metrics.json`."]
    hyper = (f"lr {theta.get('lr', '?'):g}, weight decay {theta.get('weight_decay', '?'):g}, warm-up "
             f"{theta.get('warmup_ratio', '?'):g}, seed {theta.get('seed', '?')}") if theta else "not recorded"
    epochs_cap = cfg.epochs or "the size rule's"  # (None: each training chose its own by the model's size)
    if which == "agora":
        training = [
            f"Agora (de Wynter 2020) on `{cfg.model}`, {task.name}: {result['iterations']} iteration(s), "
            f"{result['trainings']} trainings over Θ = {cfg.theta}; the best model came from iteration "
            f"{result['best_iteration']}.",
            f"{result['augmented_examples']:,} points added to the {result['train_examples']:,} training examples: the "
            f"mistakes on E perturbed by φ = {cfg.phi} and labelled by Socrates `{model_name(cfg.socrates)}`.",
            f"Convergent hyperparameter set: {hyper}; each training plain fine-tuning for at most {epochs_cap} epochs "
            f"(batch {cfg.batch_size}, patience {cfg.patience}, {cfg.head} head), early-stopped on E.",
        ]
        summary = f"`{model_name(cfg.model)}` fine-tuned on {task.name} with Agora by bort."
    else:
        training = [
            f"Plain fine-tuning of `{cfg.model}` on {task.name} over the same Θ = {cfg.theta} as Agora's first "
            f"iteration, without Agora's additions; the best θ on E: {hyper}.",
            f"At most {epochs_cap} epochs each (batch {cfg.batch_size}, patience {cfg.patience}, {cfg.head} head), "
            "early-stopped on E.",
        ]
        summary = (f"`{model_name(cfg.model)}` fine-tuned plainly on {task.name} (Agora's baseline with the same Θ) "
                   "by bort.")
    arch = arch_tuple(read_config(out))
    return write_card(out, title=f"{Path(cfg.out).name}-{out.name}", stage="finetune", config=cfg, command=command,
                      summary=summary, base_model=model_name(cfg.model), datasets=task_datasets(task),
                      training=training,
                      tags=("text-classification", task.benchmark, *(("agora",) if which == "agora" else ())),
                      latency=carried_latency(cfg.model, arch), eval_results=evals, results=results,
                      usage=usage_text("text-classification", f"{Path(cfg.out).name}/{out.name}"))
