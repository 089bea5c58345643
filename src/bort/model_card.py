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

This module is the writing every card shares; what each stage's card says is beside that stage
(:mod:`bort.extract.card`, :mod:`bort.pretrain.card`, :mod:`bort.finetune.card`, :mod:`bort.agora.card`,
:mod:`bort.inference.card`), since only the stage knows its own settings. So this sits beside
:mod:`bort.checkpoint`, below every stage, and imports none of them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from bort.util.io import write_text_atomic
from bort.util.version import VERSION

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
def pipeline_for(config: dict) -> str:
    names = config.get("architectures") or []
    if any(n.endswith("ForSequenceClassification") for n in names):
        return "text-classification"
    if any(n.endswith("ForMaskedLM") for n in names):
        return "fill-mask"
    return "feature-extraction"


def file_names(paths) -> list[str]:
    """Files as a card's ``datasets`` names them: by their own names, each once (a corpus, a task's own files)."""
    return list(dict.fromkeys(Path(str(p).rstrip("/")).name or str(p) for p in paths or []))


def task_datasets(task) -> list[str]:
    """A task as the card's ``datasets`` names it: a benchmark's task by name (``glue/RTE``), the user's own task
    (``--task custom``) by its files."""
    return [task.name] if "/" in task.name else file_names(getattr(task, "files", {}).values()) or [task.name]


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
        return (equivalent_command(stage, config),
                f"rebuilt from the run's configuration; the run was started from {via}")
    return None, "not recorded"


def equivalent_command(stage: str, config) -> str:
    """``bort STAGE`` with the flags that set ``config``: :func:`bort.config.command_line`."""
    from bort.config import command_line as config_command_line

    return config_command_line(stage, config)


# ---------------------------------------------------------------------------------------------- latency
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

    out = Path(out)
    config_json = read_config(out)
    arch = arch_tuple(config_json)
    parameters = parameters if parameters is not None else count_parameters(out)
    pipeline_tag = pipeline_tag or pipeline_for(config_json)
    facts = {"arch": arch, "parameters": parameters, "stage": stage, "version": VERSION}
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
        f"- **Parameters:** {parameters:,} (the elements of the model's weights, tied ones once)"
        if parameters is not None else "- **Parameters:** not counted (no weights in this directory)",
        f"- **Latency against the teacher:** {_latency_text(latency)}",
        *extra, "",
        "## Training", "", *[f"- {line}" for line in training], "",
    ]
    if results:
        body += ["## Results", "", *results, ""]
    body += ["## Command", "", f"```bash\n{cmd}\n```" if cmd else "not recorded", "", f"({how}; bort {VERSION})", ""]
    if usage:
        body += ["## Usage", "", f"```python\n{usage}\n```", ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))
    return write_text_atomic(out / CARD_FILE, str(card))


def usage_text(pipeline_tag: str, name: str) -> str:
    """The card's Usage snippet: the ``transformers`` Auto class that fits the model's head, loading ``name``."""
    auto = {"text-classification": "AutoModelForSequenceClassification", "fill-mask": "AutoModelForMaskedLM"}.get(
        pipeline_tag, "AutoModel")
    return (f"from transformers import AutoTokenizer, {auto}\n\ntokenizer = AutoTokenizer.from_pretrained(\"{name}\")\n"
            f"model = {auto}.from_pretrained(\"{name}\")")


def metric_results(task, metrics: dict, split: str, label: str, title: str) -> tuple[list, list[str]]:
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


# ---------------------------------------------------------------------------------------------- reading one back
def read_card(path: str | Path) -> Any:
    """A model directory's card (or a README.md) as huggingface_hub's ModelCard."""
    from huggingface_hub import ModelCard

    path = Path(path)
    return ModelCard.load(path / CARD_FILE if path.is_dir() else path)

