"""Tokenize a corpus once (cached on disk), split it by document, pack it into sequences.

Sequences are ``<s> tokens </s>`` of at most ``seq_len`` tokens, never crossing a document
boundary, stored as one int32 matrix (n_sequences, seq_len) padded with the pad id.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bort.errors import BortError
from bort.mlm.corpus import CorpusFile, documents

TOKEN_CACHE = "token_cache"  # the tokenization cache's folder in a run directory, unless --cache-dir says otherwise
TOKENIZE_BATCH = 256  # documents per call to the fast tokenizer
MIN_SEQUENCE_TOKENS = 16  # a document's short tail below this is dropped: it would be mostly padding


@dataclass
class PackedSplit:
    """Sequences of one split: ids (n, seq_len) int32, and each row's real length."""

    ids: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())

    def batch(self, rows) -> dict[str, torch.Tensor]:
        """A padded batch: input_ids and attention_mask, shape (len(rows), seq_len)."""
        ids = torch.from_numpy(np.ascontiguousarray(self.ids[rows])).long()
        lengths = torch.from_numpy(self.lengths[rows]).long()
        mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).long()
        return {"input_ids": ids, "attention_mask": mask}


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of the tokenizer's full definition, so a different vocabulary never reuses a cache."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    text = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _cache_key(files: list[CorpusFile], tokenizer, doc_words: int) -> str:
    parts = [tokenizer_fingerprint(tokenizer), str(doc_words)] + [f.sha1 for f in files]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:20]


def tokenize_corpus(files: list[CorpusFile], tokenizer, cache_dir: Path, doc_words: int = 1000,
                    progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of every document, concatenated (int32), and document offsets (n_docs + 1).

    Cached under ``cache_dir`` by corpus content and tokenizer; a second call reads the cache.
    """
    key = _cache_key(files, tokenizer, doc_words)
    cache = Path(cache_dir) / f"tokens-{key}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return data["ids"], data["offsets"]
    docs: list[str] = []
    for f in files:
        docs.extend(d for d in documents(f.path, doc_words, f.text_field) if d.strip())
    if not docs:
        raise BortError(f"the corpus ({', '.join(str(f.path) for f in files)}) holds no text")
    chunks, offsets = [], [0]
    batches = range(0, len(docs), TOKENIZE_BATCH)
    for start in (progress(batches) if progress else batches):
        encoded = tokenizer(docs[start:start + TOKENIZE_BATCH], add_special_tokens=False)["input_ids"]
        for ids in encoded:
            chunks.append(np.asarray(ids, dtype=np.int32))
            offsets.append(offsets[-1] + len(ids))
    ids = np.concatenate(chunks) if chunks else np.zeros(0, np.int32)
    offsets = np.asarray(offsets, dtype=np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + f".{os.getpid()}.partial.npz")
    np.savez(tmp, ids=ids, offsets=offsets)
    os.replace(tmp, cache)
    return ids, offsets


def split_documents(n_docs: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Document indices for train and validation: a seeded shuffle, at least one of each."""
    if n_docs < 2:
        raise BortError(f"the corpus has {n_docs} document(s); at least 2 are needed to hold one out for validation")
    order = np.random.default_rng(seed).permutation(n_docs)
    n_val = min(max(1, round(n_docs * val_fraction)), n_docs - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def pack(ids: np.ndarray, offsets: np.ndarray, doc_indices: np.ndarray, seq_len: int,
         bos: int, eos: int, pad: int) -> PackedSplit:
    """Cut each document into ``<s> … </s>`` sequences of at most ``seq_len`` tokens."""
    body = seq_len - 2
    rows, lengths = [], []
    for d in doc_indices:
        doc = ids[offsets[d]:offsets[d + 1]]
        for start in range(0, len(doc), body):
            piece = doc[start:start + body]
            if len(piece) < MIN_SEQUENCE_TOKENS and start > 0:
                continue
            row = np.full(seq_len, pad, dtype=np.int32)
            row[0], row[1:1 + len(piece)], row[1 + len(piece)] = bos, piece, eos
            rows.append(row)
            lengths.append(len(piece) + 2)
    if not rows:
        return PackedSplit(np.zeros((0, seq_len), np.int32), np.zeros(0, np.int32))
    return PackedSplit(np.stack(rows), np.asarray(lengths, dtype=np.int32))


def build_splits(files: list[CorpusFile], tokenizer, seq_len: int, cache_dir: Path, val_fraction: float = 0.05,
                 seed: int = 0, doc_words: int = 1000, progress=None) -> tuple[PackedSplit, PackedSplit]:
    """Train and validation sequences of a corpus, split by document."""
    ids, offsets = tokenize_corpus(files, tokenizer, cache_dir, doc_words, progress)
    train_docs, val_docs = split_documents(len(offsets) - 1, val_fraction, seed)
    special = dict(bos=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id,
                   eos=tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id,
                   pad=tokenizer.pad_token_id)
    return pack(ids, offsets, train_docs, seq_len, **special), pack(ids, offsets, val_docs, seq_len, **special)
