"""Local Hugging Face model directories: every loader bort has, and the one saver.

Loading is safe (safetensors only, never code from the directory, never a hub) and fails with one
line naming the directory and what is wrong with it; saving never leaves a half-written directory.
Training state (optimizer, scheduler, RNG) lives elsewhere: :mod:`bort.training.train_state`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from bort.architecture.hf_config import SUPPORTED_MODEL_TYPES, usable_positions
from bort.errors import BortError, first_line


def check_model_dir(path: str | Path) -> Path:
    """A local model directory with a ``config.json``, or a one-line error."""
    path = Path(path)
    if not path.is_dir():
        raise BortError(f"model directory {path} does not exist")
    if not (path / "config.json").is_file():
        raise BortError(f"model directory {path} has no config.json (expected a Hugging Face model directory)")
    return path


def model_name(path: str | Path | None) -> str | None:
    """A model as a model card or a record names it: a local directory by its own name (``runs/models/roberta-large``
    → ``roberta-large``), a Hub-style id as given. Here, below both, because the cards and the reader of a search's
    recorded latency (:mod:`bort.measure.recorded`) name the teacher alike."""
    if not path:
        return None
    path = Path(str(path).rstrip("/"))
    return path.resolve().name if path.exists() else str(path)


@contextlib.contextmanager
def _loading(what: str, path: Path):
    """Turn whatever a damaged or foreign directory raises (JSON, safetensors, shape, missing-file
    errors, each library with its own types) into one line that names the directory."""
    try:
        yield
    except BortError:
        raise
    except Exception as exc:  # noqa: BLE001 — a user's file, whatever is wrong with it
        raise BortError(f"cannot load {what} from {path}: {first_line(exc)}")


def load_config(path: str | Path):
    """The ``config.json`` of a BERT or RoBERTa directory (a teacher, a student, a fine-tuned model)."""
    from transformers import AutoConfig

    path = check_model_dir(path)
    with _loading("a model configuration", path / "config.json"):
        json.loads((path / "config.json").read_text(encoding="utf-8"))  # a clear message for a file that is not JSON
        config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise BortError(f"{path / 'config.json'}: model_type {config.model_type!r} is not supported; "
                        f"expected one of {SUPPORTED_MODEL_TYPES}")
    return config


def load_config_file(path: str | Path, flag: str = "--config"):
    """A student's BERT/RoBERTa ``config.json`` given on its own (e.g. a search's best/config.json), or a
    one-line error naming ``flag``."""
    from transformers import AutoConfig

    path = Path(path)
    if not path.is_file():
        raise BortError(f"{flag} {path} does not exist")
    try:
        config = AutoConfig.from_pretrained(str(path.parent if path.name == "config.json" else path),
                                            local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise BortError(f"cannot read student config {path}: {str(exc).splitlines()[0]}")
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise BortError(f"{flag} {path}: model_type {config.model_type!r} is not supported; expected one of "
                        f"{SUPPORTED_MODEL_TYPES}")
    return config


def check_weights(path: str | Path) -> None:
    """The directory's safetensors weights exist and their headers read: a truncated or foreign file is
    refused by name before any model is built."""
    from safetensors import safe_open

    path = Path(path)
    index = path / "model.safetensors.index.json"
    with _loading("the weights index", index):
        names = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file() \
            else ["model.safetensors"]
    for name in names:
        weights = path / name
        if not weights.is_file():
            pickled = " (bort loads safetensors only: pickled weights can run code when loaded)" \
                if (path / "pytorch_model.bin").is_file() else ""
            raise BortError(f"{weights} does not exist{pickled}")
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except Exception as exc:  # noqa: BLE001 — safetensors raises its own error types
            raise BortError(f"{weights} is damaged or not a safetensors file: {first_line(exc)}")


def check_fits(path: str | Path, config, tokenizer, max_len: int, flag: str = "--max-len") -> None:
    """The tokenizer's ids must index the model's embedding, and ``max_len`` tokens fit its positions."""
    if config.vocab_size < len(tokenizer):
        raise BortError(f"{path}: the model's vocabulary ({config.vocab_size} embedding rows) is smaller than its "
                        f"tokenizer's ({len(tokenizer)} tokens); give the tokenizer the model was trained with")
    usable = usable_positions(config)
    if usable is not None and max_len > usable:
        raise BortError(f"{flag} {max_len} exceeds the model's {usable} usable positions ({path / 'config.json'})")


def has_masked_lm_head(config) -> bool:
    return any(name.endswith("ForMaskedLM") for name in (config.architectures or []))


def has_classification_head(config) -> bool:
    return any(name.endswith("ForSequenceClassification") for name in (config.architectures or []))


def require_masked_lm(path: str | Path, config) -> None:
    """A teacher must have a masked-LM head: distillation and the search learn its distribution."""
    if not has_masked_lm_head(config):
        raise BortError(f"{path} is not a masked LM (config.json architectures: {config.architectures or 'none'}); "
                        "a teacher needs its masked-LM head — train one with `bort pretrain --mode mlm --init DIR`")


def _from_pretrained(model_class, path: str | Path, config, what: str):
    """``model_class`` from a local directory: weights checked first, safetensors only, no hub, no remote code."""
    check_weights(path)
    with _loading(what, Path(path)):
        return model_class.from_pretrained(str(path), config=config, local_files_only=True, use_safetensors=True,
                                           trust_remote_code=False)


def load_model(path: str | Path):
    """The model in ``path`` with the head its config names (masked LM, classifier, or bare encoder)."""
    import transformers
    from transformers import AutoModel

    config = load_config(path)
    names = config.architectures or []
    cls = getattr(transformers, names[0], None) if names else None
    if cls is None or not hasattr(cls, "from_pretrained"):
        cls = AutoModel
    # safetensors only: pickled weights can run code when loaded.
    return _from_pretrained(cls, path, config, "a model").eval()


def load_encoder(path: str | Path):
    """The encoder alone of any model directory (a head, if any, is left out): what latency is timed on."""
    from transformers import AutoModel

    return _from_pretrained(AutoModel, path, load_config(path), "an encoder").eval()


def masked_lm_from_checkpoint(path: str | Path, config=None):
    """A trainable masked LM from any encoder directory: its weights, and a masked-LM head that is the
    checkpoint's own when it has one, else new (its decoder tied to the word embeddings)."""
    from transformers import AutoModelForMaskedLM

    config = config if config is not None else load_config(path)
    config.architectures = None
    return _from_pretrained(AutoModelForMaskedLM, path, config, "an encoder for masked-LM training")


def load_masked_lm(path: str | Path):
    """A masked-LM teacher, frozen and in eval mode; refused when the directory has no MLM head."""
    from transformers import AutoModelForMaskedLM

    config = load_config(path)
    require_masked_lm(path, config)
    teacher = _from_pretrained(AutoModelForMaskedLM, path, config, "a masked-LM teacher")
    teacher.eval().requires_grad_(False)
    return teacher


def classifier_from_encoder(path: str | Path, num_labels: int, labels: tuple[str, ...] = (), regression: bool = False,
                            dropout: float = 0.1):
    """A sequence classifier (or regressor, ``num_labels`` 1) on any local encoder checkpoint; the head
    is new, the encoder's weights are the checkpoint's."""
    from transformers import AutoModelForSequenceClassification

    config = load_config(path)
    config.num_labels = num_labels
    config.problem_type = "regression" if regression else "single_label_classification"
    if labels:
        config.id2label = dict(enumerate(labels))
        config.label2id = {v: k for k, v in config.id2label.items()}
    config.hidden_dropout_prob = dropout
    config.classifier_dropout = dropout
    config.architectures = None
    return _from_pretrained(AutoModelForSequenceClassification, path, config, "an encoder for sequence classification")


def freeze_pooler_to_identity(model):
    """Make the dense layer in front of a BERT/RoBERTa classifier the identity, frozen: the head's only learned
    layer is then the last, linear one (on tanh of the first token's state, as tanh is fixed in transformers'
    BertPooler and RobertaClassificationHead). The model stays a stock class: ``from_pretrained`` loads it."""
    import torch

    pooler = getattr(model.base_model, "pooler", None)
    dense = getattr(pooler, "dense", None) or getattr(getattr(model, "classifier", None), "dense", None)
    if not isinstance(dense, torch.nn.Linear) or dense.in_features != dense.out_features:
        raise BortError(f"--head linear: {type(model).__name__} has no square dense layer before its classifier "
                        "(expected a BERT pooler or a RoBERTa classification head)")
    with torch.no_grad():
        dense.weight.copy_(torch.eye(dense.in_features))
        dense.bias.zero_()
    dense.requires_grad_(False)
    return dense


def load_classifier(path: str | Path):
    """A fine-tuned sequence classifier (a `bort finetune` run or any HF classification directory)."""
    from transformers import AutoModelForSequenceClassification

    config = load_config(path)
    if not has_classification_head(config):
        raise BortError(f"{path} has no classification head (config.json architectures: {config.architectures}); "
                        "fine-tune it first with `bort finetune`")
    return _from_pretrained(AutoModelForSequenceClassification, path, config, "a classifier").eval()


def save_model_dir(model, tokenizer, out: str | Path) -> Path:
    """Save ``model`` (safetensors) and ``tokenizer`` into ``out`` as an HF directory.

    Everything is written to a staging folder first and moved into place file by file, config.json
    last, so that a reader never finds a config without its weights.
    """
    out = Path(out)
    staging = out / ".model.partial"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    for f in sorted(staging.iterdir(), key=lambda p: p.name == "config.json"):
        os.replace(f, out / f.name)
    staging.rmdir()
    return out
