"""How closely a fast path reproduces the eager fp32 outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Parity:
    cosine: float  # cosine similarity of the flattened outputs
    max_abs: float  # largest absolute element-wise difference

    def __str__(self) -> str:
        return f"cosine {self.cosine:.6f}, max |Δ| {self.max_abs:.3g}"


def parity(reference, candidate) -> Parity:
    """Compare two outputs of the same shape (torch tensors or numpy arrays), in float64."""
    ref = np.asarray(to_numpy(reference), dtype=np.float64).ravel()
    out = np.asarray(to_numpy(candidate), dtype=np.float64).ravel()
    if ref.shape != out.shape:
        raise ValueError(f"outputs differ in size: {ref.shape} vs {out.shape}")
    denom = np.linalg.norm(ref) * np.linalg.norm(out)
    cosine = float(ref @ out / denom) if denom else float(np.array_equal(ref, out))
    return Parity(cosine=cosine, max_abs=float(np.max(np.abs(ref - out))) if ref.size else 0.0)


def to_numpy(x):
    """A torch tensor (detached, as float32 on the CPU) or anything numpy takes, as a numpy array."""
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return x
