"""The model card of plain ``bort finetune``'s best model: its scores (held out when there is a hold-out), the
majority-class baseline beside them, and the recipe it was trained with.

Beside fine-tuning rather than in :mod:`bort.model_card` because it reads
:class:`~bort.finetune.config.FinetuneConfig`'s settings and the run's result: the card writer below knows no stage.
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


def finetuning_card(out: str | Path, cfg, task, result: dict, command: str | None = None) -> Path:
    """The card of ``bort finetune``'s best model (plain fine-tuning), its metrics those of ``metrics.json``."""
    out = Path(out)
    held = result.get("held_out_metrics")
    metrics, split, label = ((held, "validation", "held-out H, never selected on") if held
                             else (result["dev"], "validation", "dev, the set early stopping selected on"))
    evals, table = metric_results(task, metrics, split, label, label)
    results = table + ["", "Majority class on the same examples: "
                       + ", ".join(f"{k} {v:.4f}" for k, v in (result.get("held_out_majority_baseline" if held else
                                                                              "majority_baseline") or {}).items()
                                   if k in task.metrics) + "; all figures in `metrics.json`."]
    if result.get("test_metrics"):  # the test file, labelled: scored once by the selected model, named as test
        test_evals, test_table = metric_results(task, result["test_metrics"], "test", "test file, never selected on",
                                                "test file")
        evals, results = evals + test_evals, results + ["", *test_table]
    elif "test_examples" in result:
        results += ["", f"Test file: {result['test_examples']:,} examples predicted, without labels to score "
                    "(`test_predictions.jsonl`)."]
    training = [
        f"Plain fine-tuning of `{cfg.model}` on {task.name} ({result['train_examples']:,} training examples): best "
        f"epoch {result['best_epoch']} of {len(result['history'])} run (at most {result.get('epochs', cfg.epochs)}, "
        f"patience {cfg.patience}), selected on {result['dev_examples']:,} dev examples"
        + (f"; distilled from `{model_name(result['teacher'])}` (α {result['alpha']:g}, τ {result['temperature']:g}"
           + _intermediate(result.get("intermediate")) + ")" if result.get("teacher") else "")
        + (f", with {result['augmented']['copies']:,} teacher-labelled copies (φ {result['augmented']['phi']})"
           if result.get("augmented") else "") + ".",
        f"AdamW lr {result.get('lr', cfg.lr):g}, weight decay {cfg.weight_decay:g}, warm-up {cfg.warmup_ratio:g} "
        "then linear decay, batch "
        f"{cfg.batch_size}, clipping {cfg.clip:g}, dropout {cfg.dropout:g}, {cfg.head} head"
        + (f" initialised U(±{cfg.head_init:g})" if cfg.head_init else "")
        + f", {getattr(cfg, 'max_len', None) or task.max_len}"
        f" tokens, seed {cfg.seed}.",
    ]
    arch = arch_tuple(read_config(out))
    return write_card(out, title=out.name, stage="finetune", config=cfg, command=command,
                      summary=f"`{model_name(cfg.model)}` fine-tuned on {task.name} by bort.",
                      base_model=model_name(cfg.model), datasets=task_datasets(task), training=training,
                      tags=("text-classification", task.benchmark), latency=carried_latency(cfg.model, arch),
                      eval_results=evals, results=results, usage=usage_text("text-classification", out.name))


def _intermediate(terms: dict | None) -> str:
    """", γ 1 (hidden states, teacher layers [0, 5] from extraction.json), δ 0" or nothing."""
    if not terms:
        return ""
    return (f", γ {terms['hidden_weight']:g} (hidden states, teacher layers {terms['layer_map']} "
            f"{'from extraction.json' if terms['layer_map_from'] == 'extraction.json' else 'evenly spaced'}), "
            f"δ {terms['attention_weight']:g} (attention relations)")
