"""RoBERTa's byte-level BPE tokenizer, shipped with the package, and a loader for any local one."""

from bort.tokenizer.load import DEFAULT_TOKENIZER_DIR, load_tokenizer, tokenizer_for_model

__all__ = ["DEFAULT_TOKENIZER_DIR", "load_tokenizer", "tokenizer_for_model"]
