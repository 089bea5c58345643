"""Load a tokenizer from a local directory: the shipped RoBERTa one by default."""

from __future__ import annotations

from pathlib import Path

from bort.errors import BortError

# Built by ``python -m bort.tokenizer.build`` from GPT-2's BPE files and fairseq's dict.txt.
DEFAULT_TOKENIZER_DIR = Path(__file__).with_name("roberta")


def load_tokenizer(path: str | Path | None = None):
    """A fast Hugging Face tokenizer from ``path`` (a local directory), or RoBERTa's by default.

    Never reaches a hub and never runs code from the directory.
    """
    from transformers import AutoTokenizer

    directory = Path(path) if path is not None else DEFAULT_TOKENIZER_DIR
    if not directory.is_dir():
        raise BortError(f"tokenizer directory {directory} does not exist "
                        "(expected a local Hugging Face tokenizer directory)")
    try:
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, TypeError) as exc:
        raise BortError(f"cannot load a tokenizer from {directory}: {str(exc).splitlines()[0]}")


def tokenizer_for_model(model_dir: str | Path):
    """The tokenizer saved beside a model (a teacher directory), else RoBERTa's shipped one."""
    if (Path(model_dir) / "tokenizer_config.json").is_file():
        return load_tokenizer(model_dir)
    return load_tokenizer()


# The files a saved Hugging Face tokenizer may consist of; one of the first three is its vocabulary.
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                   "merges.txt")


def require_tokenizer(model_dir: str | Path, what: str = "an export of it"):
    """The tokenizer saved in ``model_dir``, loaded; refused in one line when there is none, since ``what`` would
    take text it cannot turn into input ids (a model alone serves only ids). Save one beside the model with
    ``tokenizer.save_pretrained(DIR)``."""
    directory = Path(model_dir)
    if not any((directory / name).is_file() for name in TOKENIZER_FILES[:3]):
        raise BortError(f"{directory} holds no tokenizer (no tokenizer.json, vocab.json or vocab.txt): {what} could "
                        "not turn text into input ids; save the model's tokenizer into it "
                        "(tokenizer.save_pretrained(DIR)) and run again")
    return load_tokenizer(directory)
