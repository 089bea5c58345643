"""The ``README.md`` beside every model directory bort writes: a Hugging Face model card.

One card per directory, written once at the end of the run that made it (extraction, pre-training,
fine-tuning, Agora's ``best/`` and ``plain_best/``, ``bort export``), atomically, with
``huggingface_hub``'s :class:`ModelCard` / :class:`ModelCardData` (no template is fetched; the body is
built here) so that ``ModelCard.load(DIR / "README.md")`` reads it back. The YAML metadata holds
``base_model``, ``library_name``, ``pipeline_tag``, ``datasets``, ``tags`` and, for a fine-tuned model, a
``model-index`` with the task's metrics; a ``bort`` entry keeps the facts in machine-readable form (the
⟨D,A,H,I⟩ tuple, the parameter count, a measured latency ratio) so that the next stage can carry the
latency forward when it keeps the architecture. The body: the architecture tuple and the parameter count
(read from the saved weights), the latency ratio against the teacher when bort measured one (or "not
measured here"), how the model was trained, and the exact command.

The stages' configurations are read by attribute only: this module sits beside :mod:`bort.checkpoint`,
below every stage, and imports none of them.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from bort.util.io import write_text_atomic

CARD_FILE = "README.md"
NOT_MEASURED = "not measured here"
PRETTY_METRICS = {"accuracy": "Accuracy", "f1": "F1", "mcc": "Matthews correlation", "pearson": "Pearson r",
                  "spearman": "Spearman ρ", "f1a": "F1 over all answers", "em": "Exact match"}


# ---------------------------------------------------------------------------------------------- what a directory holds
def read_config(model_dir: str | Path) -> dict:
    """``config.json`` as a dict ({} when the directory has none)."""
    path = Path(model_dir) / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def arch_tuple(config: dict) -> list[int] | None:
    """⟨D, A, H, I⟩ of a BERT/RoBERTa ``config.json``."""
    keys = ("num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size")
    return [int(config[k]) for k in keys] if all(k in config for k in keys) else None


def count_parameters(model_dir: str | Path) -> int | None:
    """The saved model's parameters: the elements of every floating-point tensor of its safetensors files (tied
    weights are saved once; integer buffers such as ``position_ids`` are not parameters). None without weights."""
    from safetensors import safe_open

    model_dir = Path(model_dir)
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (model_dir / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        return None
    total = 0
    for name in files:
        with safe_open(str(model_dir / name), framework="pt") as f:
            for key in f.keys():
                tensor = f.get_slice(key)
                if tensor.get_dtype().startswith(("F", "BF")):
                    total += math.prod(tensor.get_shape())
    return total


def model_name(path: str | Path | None) -> str | None:
    """A model as the card names it: a local directory by its own name (``runs/models/roberta-large`` →
    ``roberta-large``), a Hub-style id as given."""
    if not path:
        return None
    path = Path(str(path).rstrip("/"))
    return path.resolve().name if path.exists() else str(path)


def pipeline_for(config: dict) -> str:
    names = config.get("architectures") or []
    if any(n.endswith("ForSequenceClassification") for n in names):
        return "text-classification"
    if any(n.endswith("ForMaskedLM") for n in names):
        return "fill-mask"
    return "feature-extraction"


def _file_names(paths) -> list[str]:
    return list(dict.fromkeys(Path(str(p).rstrip("/")).name or str(p) for p in paths or []))


def task_datasets(task) -> list[str]:
    """A task as the card's ``datasets`` names it: a benchmark's task by name (``glue/RTE``), the user's own task
    (``--task custom``) by its files."""
    return [task.name] if "/" in task.name else _file_names(getattr(task, "files", {}).values()) or [task.name]


# ---------------------------------------------------------------------------------------------- the command
def command_line(stage: str, config=None, command: str | None = None) -> tuple[str | None, str]:
    """(the command, how it was recorded). ``command`` when given; else this process's own ``bort STAGE ...``
    argv when it is the ``bort`` CLI running that stage; else, for a run started from Python (or by
    ``bort quickstart``), the equivalent command rebuilt from the run's configuration."""
    if command is not None:
        return command, "as given"
    argv = sys.argv
    program = Path(argv[0]).as_posix() if argv and argv[0] else ""
    cli = (Path(program).name == "bort" or program.endswith("bort/cli/main.py")) and len(argv) > 1
    if cli and argv[1] == stage:
        return " ".join(shlex.quote(a) for a in ["bort", *argv[1:]]), "the command that ran"
    if config is not None and dataclasses.is_dataclass(config):
        via = f"`bort {argv[1]}`" if cli else "Python"
        return equivalent_command(stage, config), f"rebuilt from the run's configuration; the run was started from {via}"
    return None, "not recorded"


def equivalent_command(stage: str, config) -> str:
    """``bort STAGE`` with the flags that set ``config``: :func:`bort.config.command_line`."""
    from bort.config import command_line as config_command_line

    return config_command_line(stage, config)


# ---------------------------------------------------------------------------------------------- latency
def search_latency(arch: list[int] | None, *inputs) -> dict | None:
    """The latency ratio ``bort search`` measured for ``arch`` against its teacher, when one of ``inputs`` (a
    search's ``best/config.json`` or ``importance.json``) lies in a search run that timed it (in ms, not FLOPs)."""
    if arch is None:
        return None
    for given in inputs:
        if not given:
            continue
        for run in (Path(given).parent, Path(given).parent.parent):
            try:
                summary = json.loads((run / "search_summary.json").read_text(encoding="utf-8"))
                search_cfg = json.loads((run / "search_config.json").read_text(encoding="utf-8"))
                with open(run / "ranking.csv", newline="", encoding="utf-8") as f:
                    rows = list(csv.DictReader(f))
            except (OSError, ValueError):
                continue
            if summary.get("latency_unit") != "ms":
                continue
            row = next((r for r in rows if [int(r[k]) for k in "DAHI"] == list(arch)), None)
            if row is None:
                continue
            student, teacher = float(row["latency"]), float(summary["latency_T"])
            device = summary.get("device") or {}
            return {"ratio": teacher / student, "student_ms": student, "teacher_ms": teacher,
                    "student_ms_interval": [float(row["latency_low"]), float(row["latency_high"])]
                    if row.get("latency_low") else None,
                    "teacher": model_name(search_cfg.get("teacher")), "device": device.get("device_name"),
                    "threads": device.get("threads"), "batch": search_cfg.get("latency_batch"),
                    "seq_len": search_cfg.get("latency_seq_len"), "measured_by": f"bort search ({run})",
                    "arch": list(arch)}
    return None


def carried_latency(source_dir: str | Path | None, arch: list[int] | None) -> dict | None:
    """The latency ratio recorded in ``source_dir``'s card, when its model has the same ⟨D,A,H,I⟩ (the encoder
    timed is then the same shape)."""
    card = Path(source_dir) / CARD_FILE if source_dir else None
    if card is None or not card.is_file() or arch is None:
        return None
    try:
        from huggingface_hub import ModelCard

        facts = ModelCard.load(card).data.to_dict().get("bort") or {}
    except Exception:  # noqa: BLE001 — a card bort did not write, or one edited by hand: nothing to carry
        return None
    latency = facts.get("latency_vs_teacher")
    return latency if isinstance(latency, dict) and facts.get("arch") == list(arch) else None


def _latency_text(latency: dict | None) -> str:
    if not latency:
        return (f"{NOT_MEASURED} (`bort search` measures it on your device, `bort bench --model DIR` times a model "
                "beside its teacher).")
    interval = latency.get("student_ms_interval")
    spread = f" [{interval[0]:.3g}, {interval[1]:.3g}]" if interval else ""
    where = ", ".join(str(x) for x in (latency.get("device"), f"{latency['threads']} threads"
                                       if latency.get("threads") else None) if x)
    shape = (f" at batch {latency['batch']} × {latency['seq_len']} tokens"
             if latency.get("batch") and latency.get("seq_len") else "")
    return (f"`{latency.get('teacher')}`: **{latency['ratio']:.2f}× faster** (the "
            f"encoder: {latency['student_ms']:.3g} ms{spread} vs {latency['teacher_ms']:.3g} ms{shape}, on {where}; "
            f"measured by {latency.get('measured_by')}).")


# ---------------------------------------------------------------------------------------------- the card
def write_card(out: str | Path, *, title: str, summary: str, base_model: str | None, datasets: list[str],
               training: list[str], stage: str, config=None, command: str | None = None, tags: tuple = (),
               latency: dict | None = None, eval_results: list | None = None, results: list[str] = (),
               parameters: int | None = None, library_name: str = "transformers", pipeline_tag: str | None = None,
               usage: str | None = None, extra: list[str] = ()) -> Path:
    """Write ``out/README.md``: the metadata and the body described in the module docstring."""
    from huggingface_hub import ModelCard, ModelCardData

    from bort import __version__

    out = Path(out)
    config_json = read_config(out)
    arch = arch_tuple(config_json)
    parameters = parameters if parameters is not None else count_parameters(out)
    pipeline_tag = pipeline_tag or pipeline_for(config_json)
    facts = {"arch": arch, "parameters": parameters, "stage": stage, "version": __version__}
    if latency:
        facts["latency_vs_teacher"] = latency
    data = ModelCardData(base_model=base_model, library_name=library_name, pipeline_tag=pipeline_tag,
                         datasets=datasets or None, tags=["bort", "distillation", *tags],
                         eval_results=eval_results or None, model_name=title if eval_results else None, bort=facts)
    cmd, how = command_line(stage, config, command)
    shape = (f"⟨{', '.join(map(str, arch))}⟩ (depth D, attention heads A, hidden size H, intermediate size I, from "
             "config.json)") if arch else "not a BERT/RoBERTa config.json"
    body = [
        f"# {title}", "", summary, "",
        "## Model", "",
        f"- **Architecture ⟨D, A, H, I⟩:** {shape}",
        f"- **Class:** {', '.join(config_json.get('architectures') or []) or 'not recorded'} "
        f"({config_json.get('model_type', '?')}, vocabulary {config_json.get('vocab_size', '?')})",
        f"- **Parameters:** {parameters:,} (the elements of the model's weights, tied ones once)" if parameters is not None
        else "- **Parameters:** not counted (no weights in this directory)",
        f"- **Latency against the teacher:** {_latency_text(latency)}",
        *extra, "",
        "## Training", "", *[f"- {line}" for line in training], "",
    ]
    if results:
        body += ["## Results", "", *results, ""]
    body += ["## Command", "", f"```bash\n{cmd}\n```" if cmd else "not recorded", "", f"({how}; bort {__version__})", ""]
    if usage:
        body += ["## Usage", "", f"```python\n{usage}\n```", ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))
    return write_text_atomic(out / CARD_FILE, str(card))


def _usage(pipeline_tag: str, name: str) -> str:
    auto = {"text-classification": "AutoModelForSequenceClassification", "fill-mask": "AutoModelForMaskedLM"}.get(
        pipeline_tag, "AutoModel")
    return (f"from transformers import AutoTokenizer, {auto}\n\ntokenizer = AutoTokenizer.from_pretrained(\"{name}\")\n"
            f"model = {auto}.from_pretrained(\"{name}\")")


def _metric_results(task, metrics: dict, split: str, label: str, title: str) -> tuple[list, list[str]]:
    """(EvalResults for the model-index, Markdown lines) for the task's metrics in ``metrics``."""
    from huggingface_hub import EvalResult

    benchmark, _, config = task.name.partition("/")
    dev = (getattr(task, "files", None) or {}).get("dev")
    names = [m for m in task.metrics if m in metrics]
    evals = [EvalResult(task_type="text-classification", task_name="Text Classification", dataset_type=benchmark,
                        dataset_name=task.name if config or not dev else Path(dev).name, dataset_config=config or None,
                        dataset_split=split,
                        metric_type=m, metric_name=f"{PRETTY_METRICS.get(m, m)} ({label})",
                        metric_value=float(metrics[m])) for m in names]
    lines = [f"| metric | {title} |", "|---|---:|", *[f"| {m} | {float(metrics[m]):.4f} |" for m in names]]
    return evals, lines


# ---------------------------------------------------------------------------------------------- one per stage
def extraction_card(out: str | Path, cfg, report: dict, command: str | None = None) -> Path:
    """The card of ``bort extract``'s student (``out`` may be the staging folder renamed into place after)."""
    sel, teacher_arch, arch = report["selection"], report["teacher_arch"], report["arch"]
    heads = len(sel["heads"][0]) if sel["heads"] else 0
    scored = (f"scores read from `{cfg.scores}`" if cfg.scores else
              f"{cfg.importance} importance on {cfg.calibration_batches} calibration batches of {cfg.batch_size} × "
              f"{cfg.seq_len} tokens (seed {cfg.seed})")
    training = [
        f"Extracted from `{cfg.teacher}` ⟨{', '.join(map(str, teacher_arch))}⟩ by `bort extract`; no training: the "
        "weights are the teacher's own, cut down.",
        f"Kept teacher layers {sel['layers']} of {teacher_arch[0]} (rule: {cfg.layers}); {heads} heads per layer "
        f"of {teacher_arch[1]} ({sel['head_rule']}); {len(sel['channels'])} of {teacher_arch[2]} hidden channels; "
        f"{len(sel['neurons'][0]) if sel['neurons'] else 0} of {teacher_arch[3]} FFN neurons per layer.",
        f"Chosen by {scored}; `extraction.json` holds the kept indices and the scores.",
        f"Encoder parameters: {report['encoder_parameters']:,} of the teacher's {report['teacher_encoder_parameters']:,}.",
    ]
    latency = search_latency(arch, cfg.student_config, cfg.scores)
    return write_card(out, title=Path(cfg.out).name, stage="extract", config=cfg, command=command,
                      summary=f"A ⟨{', '.join(map(str, arch))}⟩ student cut out of `{model_name(cfg.teacher)}` with the "
                              "teacher's own weights by bort (Optimal Subarchitecture Extraction for BERT). Distil it "
                              "(`bort pretrain --mode kd --init`) before fine-tuning.",
                      base_model=model_name(cfg.teacher), datasets=_file_names(cfg.corpus), training=training,
                      tags=("extraction",), latency=latency, usage=_usage("fill-mask", Path(cfg.out).name))


def pretraining_card(out: str | Path, cfg, final: dict, command: str | None = None) -> Path:
    """The card of ``bort pretrain``'s final model."""
    out = Path(out)
    arch = arch_tuple(read_config(out))
    if cfg.mode == "kd":
        loss = (f"knowledge distillation from `{cfg.teacher}`: α·MLM + β·τ²·KL with α = {cfg.alpha}, β = {cfg.beta}, "
                f"τ = {cfg.temperature}" + (" at every position" if cfg.kd_all_positions else " at the masked positions")
                + (f", γ = {cfg.hidden_weight} hidden-state MSE" if cfg.hidden_weight else "")
                + (f", δ = {cfg.attention_weight} attention relations" if cfg.attention_weight else ""))
    else:
        loss = "masked-LM pre-training alone (no teacher)"
    start = (f"initialised from `{cfg.init}`" + (" (encoder frozen: the masked-LM head alone trained)"
                                                  if cfg.freeze_encoder else "") if cfg.init
             else f"from random weights ({'--config ' + str(cfg.student_config) if cfg.student_config else 'the given shape'})")
    training = [
        f"{loss}; {start}.",
        f"{final['step']} of {cfg.max_steps} steps" + (" (ended by its time budget)" if final.get("out_of_time") else "")
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
                      base_model=model_name(base), datasets=_file_names(cfg.corpus), training=training,
                      tags=("knowledge-distillation",) if cfg.mode == "kd" else ("masked-lm",), latency=latency,
                      usage=_usage("fill-mask", out.name))


def finetuning_card(out: str | Path, cfg, task, result: dict, command: str | None = None) -> Path:
    """The card of ``bort finetune``'s best model (plain fine-tuning), its metrics those of ``metrics.json``."""
    out = Path(out)
    held = result.get("held_out_metrics")
    metrics, split, label = ((held, "validation", "held-out H, never selected on") if held
                             else (result["dev"], "validation", "dev, the set early stopping selected on"))
    evals, table = _metric_results(task, metrics, split, label, label)
    results = table + ["", f"Majority class on the same examples: "
                       + ", ".join(f"{k} {v:.4f}" for k, v in (result.get("held_out_majority_baseline" if held else
                                                                              "majority_baseline") or {}).items()
                                   if k in task.metrics) + "; all figures in `metrics.json`."]
    training = [
        f"Plain fine-tuning of `{cfg.model}` on {task.name} ({result['train_examples']:,} training examples): best "
        f"epoch {result['best_epoch']} of {len(result['history'])} run (at most {result.get('epochs', cfg.epochs)}, "
        f"patience {cfg.patience}), selected on {result['dev_examples']:,} dev examples"
        + (f"; distilled from `{model_name(result['teacher'])}` (α {result['alpha']:g}, τ {result['temperature']:g})"
           if result.get("teacher") else "")
        + (f", with {result['augmented']['copies']:,} teacher-labelled copies (φ {result['augmented']['phi']})"
           if result.get("augmented") else "") + ".",
        f"AdamW lr {result.get('lr', cfg.lr):g}, weight decay {cfg.weight_decay:g}, warm-up {cfg.warmup_ratio:g} then linear decay, batch "
        f"{cfg.batch_size}, clipping {cfg.clip:g}, dropout {cfg.dropout:g}, {cfg.head} head"
        + (f" initialised U(±{cfg.head_init:g})" if cfg.head_init else "") + f", {getattr(cfg, 'max_len', None) or task.max_len}"
        f" tokens, seed {cfg.seed}.",
    ]
    arch = arch_tuple(read_config(out))
    return write_card(out, title=out.name, stage="finetune", config=cfg, command=command,
                      summary=f"`{model_name(cfg.model)}` fine-tuned on {task.name} by bort.",
                      base_model=model_name(cfg.model), datasets=task_datasets(task), training=training,
                      tags=("text-classification", task.benchmark), latency=carried_latency(cfg.model, arch),
                      eval_results=evals, results=results, usage=_usage("text-classification", out.name))


def agora_card(out: str | Path, cfg, task, result: dict, which: str, info: dict, command: str | None = None) -> Path:
    """The card of Agora's ``best/`` (``which`` "agora") or ``plain_best/`` (``which`` "plain"); ``info`` is the
    directory's ``agora_best.json``."""
    out = Path(out)
    theta = info.get("hyperparameters") or {}
    held = result["held_out_metrics"] if which == "agora" else result["plain_grid"]["held_out_metrics"]
    evals, table = _metric_results(task, held, "validation", "held-out H, never selected on", "held-out H")
    results = table + ["", f"E (selected on): {result['e_metric']} {info.get('score', float('nan')):.4f}; majority "
                       "class on H: " + ", ".join(f"{k} {v:.4f}" for k, v in result["held_out_majority_baseline"].items()
                                                  if k in task.metrics) + "; all figures in `../metrics.json`."]
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
        summary = f"`{model_name(cfg.model)}` fine-tuned plainly on {task.name} (Agora's baseline with the same Θ) by bort."
    arch = arch_tuple(read_config(out))
    return write_card(out, title=f"{Path(cfg.out).name}-{out.name}", stage="finetune", config=cfg, command=command,
                      summary=summary, base_model=model_name(cfg.model), datasets=task_datasets(task), training=training,
                      tags=("text-classification", task.benchmark, *(("agora",) if which == "agora" else ())),
                      latency=carried_latency(cfg.model, arch), eval_results=evals, results=results,
                      usage=_usage("text-classification", f"{Path(cfg.out).name}/{out.name}"))


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
    usage = f"import bort.inference\n\nmodel = bort.inference.load(\"{name}\")\nlogits = model(input_ids, attention_mask)"
    return write_card(out, title=name, stage="export", config=cfg, command=command,
                      summary=f"`{model_name(record['model_dir'])}` as the fastest faithful path bort found on "
                              f"{cpu['name']}: `{record['path']}`.",
                      base_model=model_name(record["model_dir"]), datasets=[record["bar"]["task"]]
                      if record["bar"].get("task") else [], training=training,
                      tags=("onnx",) if onnx else (), latency=carried_latency(record["model_dir"], arch),
                      parameters=sum(p.numel() for p in model.parameters()),
                      library_name="onnx" if onnx else "transformers", pipeline_tag=pipeline_for(read_config(out)),
                      usage=usage, extra=extra)


def read_card(path: str | Path) -> Any:
    """A model directory's card (or a README.md) as huggingface_hub's ModelCard."""
    from huggingface_hub import ModelCard

    path = Path(path)
    return ModelCard.load(path / CARD_FILE if path.is_dir() else path)
