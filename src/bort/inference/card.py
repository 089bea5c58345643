"""The model card of ``bort export --auto`` / ``--path``'s directory: the chosen path, its speed-up over eager on
this CPU, its parity, and the teacher ratio carried from the source model's card.

Beside the export rather than in :mod:`bort.model_card` because it reads :class:`~bort.inference.config.ExportConfig`
and ``export.json``'s record: the card writer below knows no stage.
"""

from __future__ import annotations

from pathlib import Path

from bort.checkpoint import model_name
from bort.model_card import arch_tuple, carried_latency, pipeline_for, read_config, write_card


def export_card(out: str | Path, cfg, record: dict, model, command: str | None = None) -> Path:
    """The card of ``bort export --auto`` / ``--path``'s directory: the chosen path, its speed-up over eager on
    this CPU (export.json), and the teacher ratio carried from the source model's card when it has one."""
    out = Path(out)
    chosen = record["candidates"][record["path"]]
    speed = chosen.get("speedup_over_eager") or {}
    timed, cpu = record["timed"], record["cpu"]
    onnx = record["runtime"] == "onnx"
    extra = [f"- **Speed-up over eager fp32 PyTorch on this CPU:** {speed.get('median', float('nan')):.2f}× "
             f"[{speed.get('low', float('nan')):.2f}, {speed.get('high', float('nan')):.2f}] (95% interval) for "
             f"`{record['path']}` at batch {timed['batch']} × {timed['seq_len']} tokens, {timed['threads']} thread(s), "
             f"{timed['rounds']} interleaved rounds, on {cpu['name']} (flags: {', '.join(cpu['flags']) or 'none'}; "
             f"torch kernels {cpu.get('torch_capability')})"]
    training = [
        f"No training: `{record['model_dir']}` served by `bort export` as `{record['path']}` ({record['description']}; "
        f"{record['precision']}); the choice: {record['reason']}.",
        f"Parity with eager: cosine {chosen.get('cosine', float('nan')):.6f} (bar {record['bar']['min_cosine']})"
        + (f"; {record['bar']['task']} dev score {chosen['task_score']:.2f} vs eager's "
           f"{record['bar']['eager_task_score']:.2f}" if chosen.get("task_score") is not None else "")
        + "; every candidate's figures in `export.json`.",
    ]
    arch, name = arch_tuple(read_config(out)), Path(cfg.out).name  # ``out`` may be a staging folder
    usage = (f"import bort.inference\n\nmodel = bort.inference.load(\"{name}\")\n"
             "logits = model(input_ids, attention_mask)\n"
             "logits = model(**model.tokenizer(texts, pairs, return_tensors=\"np\"))  # pairs (BERT: token_type_ids)")
    return write_card(out, title=name, stage="export", config=cfg, command=command,
                      summary=f"`{model_name(record['model_dir'])}` as the fastest faithful path bort found on "
                              f"{cpu['name']}: `{record['path']}`.",
                      base_model=model_name(record["model_dir"]), datasets=[record["bar"]["task"]]
                      if record["bar"].get("task") else [], training=training,
                      tags=("onnx",) if onnx else (), latency=carried_latency(record["model_dir"], arch),
                      parameters=sum(p.numel() for p in model.parameters()),
                      library_name="onnx" if onnx else "transformers", pipeline_tag=pipeline_for(read_config(out)),
                      usage=usage, extra=extra)
