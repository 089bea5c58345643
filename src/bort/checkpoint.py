"""Local Hugging Face model directories: loaded safely (safetensors, no remote code, clear errors)
and saved so that a reader never finds a half-written one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from bort.errors import BortError


def check_model_dir(path: str | Path) -> Path:
    """A local model directory with a ``config.json``, or a one-line error."""
    path = Path(path)
    if not path.is_dir():
        raise BortError(f"model directory {path} does not exist")
    if not (path / "config.json").is_file():
        raise BortError(f"model directory {path} has no config.json (expected a Hugging Face model directory)")
    return path


def load_model(path: str | Path) -> torch.nn.Module:
    """The model in ``path``, with the head its config names (masked LM, classifier, or bare encoder)."""
    import transformers
    from transformers import AutoConfig, AutoModel

    path = check_model_dir(path)
    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        names = config.architectures or []
        cls = getattr(transformers, names[0], None) if names else None
        if cls is None or not hasattr(cls, "from_pretrained"):
            cls = AutoModel
        # use_safetensors: refuse pickled weights, which can run code when loaded.
        model = cls.from_pretrained(str(path), config=config, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, KeyError) as exc:
        raise BortError(f"cannot load a model from {path}: {str(exc).splitlines()[0]}")
    return model.eval()


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
