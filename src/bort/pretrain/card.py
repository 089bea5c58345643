"""The model card of ``bort pretrain``'s final model: the loss (distillation or masked LM), where it started, the
schedule, the held-out masked-LM accuracy, and a latency ratio carried from its start or its searched shape.

Beside the trainer rather than in :mod:`bort.model_card` because it reads
:class:`~bort.pretrain.config.PretrainConfig`'s settings: the card writer below knows no stage.
"""

from __future__ import annotations

from pathlib import Path

from bort.checkpoint import model_name
from bort.measure.recorded import search_latency
from bort.model_card import arch_tuple, carried_latency, file_names, read_config, usage_text, write_card


def pretraining_card(out: str | Path, cfg, final: dict, command: str | None = None) -> Path:
    """The card of ``bort pretrain``'s final model."""
    out = Path(out)
    arch = arch_tuple(read_config(out))
    if cfg.mode == "kd":
        loss = (f"knowledge distillation from `{cfg.teacher}`: α·MLM + β·τ²·KL with α = {cfg.alpha}, β = {cfg.beta}, "
                f"τ = {cfg.temperature}"
                + (" at every position" if cfg.kd_all_positions else " at the masked positions")
                + (f", γ = {cfg.hidden_weight} hidden-state MSE" if cfg.hidden_weight else "")
                + (f", δ = {cfg.attention_weight} attention relations" if cfg.attention_weight else ""))
    else:
        loss = "masked-LM pre-training alone (no teacher)"
    start = (f"initialised from `{cfg.init}`" + (" (encoder frozen: the masked-LM head alone trained)"
                                                  if cfg.freeze_encoder else "") if cfg.init
             else "from random weights ("
             + (f"--config {cfg.student_config}" if cfg.student_config else "the given shape") + ")")
    training = [
        f"{loss}; {start}.",
        f"{final['step']} of {cfg.max_steps} steps"
        + (" (ended by its time budget)" if final.get("out_of_time") else "")
        + f", {cfg.batch_size} sequences of {cfg.seq_len} tokens per step, {cfg.mask_prob:.0%} masked; AdamW lr "
        f"{cfg.lr:g} ({cfg.schedule}, {cfg.warmup_steps} warm-up steps), weight decay {cfg.weight_decay:g}, "
        f"{cfg.precision}, seed {cfg.seed}.",
    ]
    if "val_mlm_accuracy" in final:
        baseline = (final.get("baseline_most_frequent") or {}).get("accuracy")
        training.append(f"Held-out masked-LM accuracy {final['val_mlm_accuracy']:.4f}"
                        + (f" (the most frequent token: {baseline:.4f})" if baseline is not None else "")
                        + (f" over {final['train_tokens']:,} training tokens" if "train_tokens" in final else "")
                        + "; `final_metrics.json`, `metrics.jsonl` and `curves.png` beside it.")
    base = cfg.teacher if cfg.mode == "kd" else cfg.init
    latency = carried_latency(cfg.init, arch) or search_latency(arch, cfg.student_config)
    return write_card(out, title=out.name, stage="pretrain", config=cfg, command=command,
                      summary=(f"A masked LM distilled from `{model_name(cfg.teacher)}` by bort." if cfg.mode == "kd"
                               else "A masked LM pre-trained by bort."),
                      base_model=model_name(base), datasets=file_names(cfg.corpus), training=training,
                      tags=("knowledge-distillation",) if cfg.mode == "kd" else ("masked-lm",), latency=latency,
                      usage=usage_text("fill-mask", out.name))
