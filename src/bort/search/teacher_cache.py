"""The teacher's work, done once per search: fixed masked batches and the teacher's logits on them.

Every candidate trains on the same s batches and is scored on the same held-out batches, so the
teacher's outputs are computed once and stored under ``RUN_DIR/teacher_cache`` as .npy files
(float16 logits, memory-mapped by every worker) instead of once per candidate.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bort.errors import BortError
from bort.mlm.dataset import PackedSplit
from bort.mlm.head import masked_logits
from bort.mlm.masking import IGNORE, mask_batch


@dataclass
class CachedBatch:
    """One fixed batch: masked ids and attention (batch, seq), positions (batch, seq) bool, and the
    teacher's logits at those positions (n_positions, vocab)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    positions: torch.Tensor
    teacher_logits: np.ndarray  # float16, possibly memory-mapped


def fixed_batches(split: PackedSplit, n_batches: int, batch_size: int, seed: int, tokenizer, mask_prob: float,
                  all_positions: bool, shuffle: bool) -> list[dict[str, torch.Tensor]]:
    """``n_batches`` batches of ``split``, masked once: seeded random rows (wrapping around) when
    ``shuffle``, else consecutive rows (the last batch may be short)."""
    order = np.random.default_rng(seed).permutation(len(split)) if shuffle else np.arange(len(split))
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for k in range(n_batches):
        span = np.arange(k * batch_size, (k + 1) * batch_size)
        rows = np.take(order, span, mode="wrap") if shuffle else order[span[0]:span[-1] + 1]
        batch = split.batch(rows)
        ids, labels = mask_batch(batch, tokenizer, generator, mask_prob)
        positions = (batch["attention_mask"] > 0) if all_positions else (labels != IGNORE)
        batches.append({"input_ids": ids, "attention_mask": batch["attention_mask"], "positions": positions})
    return batches


def build(cache_dir: Path, teacher, train_batches: list[dict], val_batches: list[dict], device: str = "cpu") -> dict:
    """Run the teacher once over every fixed batch and write the cache (atomically: a folder renamed
    into place). Returns timing information."""
    staging = cache_dir.with_name(cache_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    teacher = teacher.to(device).eval()
    started = time.perf_counter()
    with torch.inference_mode():
        for name, batches in (("train", train_batches), ("val", val_batches)):
            for k, b in enumerate(batches):
                logits = masked_logits(teacher, b["input_ids"].to(device), b["attention_mask"].to(device),
                                       b["positions"].to(device))
                np.save(staging / f"{name}-{k}-logits.npy", logits.float().cpu().numpy().astype(np.float16))
                np.save(staging / f"{name}-{k}-ids.npy", b["input_ids"].numpy().astype(np.int32))
                np.save(staging / f"{name}-{k}-attention.npy", b["attention_mask"].numpy().astype(np.int8))
                np.save(staging / f"{name}-{k}-positions.npy", b["positions"].numpy())
    seconds = time.perf_counter() - started
    info = {"train_batches": len(train_batches), "val_batches": len(val_batches), "teacher_seconds": seconds}
    (staging / "info.json").write_text(json.dumps(info))
    shutil.rmtree(cache_dir, ignore_errors=True)
    os.replace(staging, cache_dir)
    return info


def load(cache_dir: Path) -> tuple[list[CachedBatch], list[CachedBatch], dict]:
    """The cached batches, logits memory-mapped; a clear error when the cache is damaged."""
    try:
        info = json.loads((cache_dir / "info.json").read_text())

        def batch(name: str, k: int) -> CachedBatch:
            return CachedBatch(
                input_ids=torch.from_numpy(np.load(cache_dir / f"{name}-{k}-ids.npy")).long(),
                attention_mask=torch.from_numpy(np.load(cache_dir / f"{name}-{k}-attention.npy")).long(),
                positions=torch.from_numpy(np.load(cache_dir / f"{name}-{k}-positions.npy")),
                teacher_logits=np.load(cache_dir / f"{name}-{k}-logits.npy", mmap_mode="r"),
            )

        train = [batch("train", k) for k in range(info["train_batches"])]
        val = [batch("val", k) for k in range(info["val_batches"])]
    except (OSError, ValueError, KeyError) as exc:
        raise BortError(f"the teacher cache {cache_dir} is damaged ({exc}); delete it to recompute")
    return train, val, info
