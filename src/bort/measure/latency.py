"""Latency of a model's forward pass on a fixed input: median and spread after warm-up.

:func:`measure_latency` times one callable alone. Models compared with each other — ``bort bench``'s
rows and fast paths, the search's candidates against T — are timed together in interleaved rounds
(:mod:`bort.measure.interleaved`) under the same :class:`LatencyProtocol`.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch

from bort.errors import BortError
from bort.measure.device import DeviceRecord, device_record


@dataclass(frozen=True)
class LatencyProtocol:
    """How to time: the fixed input's shape, the threads, and how many runs to discard and keep."""

    batch_size: int = 1
    seq_len: int = 128
    threads: int | None = None  # None: leave torch's current setting alone
    warmup_runs: int = 2  # untimed runs first
    repeats: int = 10  # at least this many timed runs ...
    min_seconds: float = 0.0  # ... and, for fast models, keep going until this much time is timed
    max_repeats: int = 1000
    device: str = "cpu"
    seed: int = 0
    # Interleaved rounds (bort.measure.interleaved): ``repeats`` is then the minimum number of rounds.
    block_ms: float = 20.0  # a fast model runs several passes per round, so that its block lasts this long
    target_half_width: float = 0.02  # stop once every ratio's 95% interval is within ±2% ...
    max_rounds: int = 40  # ... or after this many rounds ...
    max_seconds: float = 120.0  # ... or this much timing
    load_check: bool = True  # read the machine's load before and during the timing

    def __post_init__(self) -> None:
        for name in ("batch_size", "seq_len", "repeats"):
            if getattr(self, name) < 1:
                raise BortError(f"latency protocol: {name} must be at least 1, got {getattr(self, name)}")
        if self.warmup_runs < 0:
            raise BortError(f"latency protocol: warmup_runs must be 0 or more, got {self.warmup_runs}")
        if self.threads is not None and self.threads < 1:
            raise BortError(f"latency protocol: threads must be at least 1, got {self.threads}")
        if self.max_rounds < self.repeats:
            raise BortError(f"latency protocol: max_rounds ({self.max_rounds}) is below the minimum of rounds "
                            f"({self.repeats})")
        if not self.target_half_width > 0:
            raise BortError(f"latency protocol: target_half_width must be above 0, got {self.target_half_width}")


@dataclass(frozen=True)
class Latency:
    """Wall-clock milliseconds of one forward pass, summarised over ``repeats`` timed runs."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    mean_ms: float
    std_ms: float
    samples_ms: tuple[float, ...] = field(repr=False)
    protocol: LatencyProtocol = field(default_factory=LatencyProtocol)
    device: DeviceRecord | None = None

    @property
    def spread(self) -> float:
        """Relative spread: (p90 − p10) / median."""
        return (self.p90_ms - self.p10_ms) / self.median_ms if self.median_ms else 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["samples_ms"] = list(self.samples_ms)
        out["spread"] = self.spread
        return out


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted list."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarise(samples_ms: list[float], protocol: LatencyProtocol, device: DeviceRecord | None) -> Latency:
    ordered = sorted(samples_ms)
    return Latency(
        median_ms=statistics.median(ordered),
        p10_ms=_quantile(ordered, 0.1),
        p90_ms=_quantile(ordered, 0.9),
        min_ms=ordered[0],
        mean_ms=statistics.fmean(ordered),
        std_ms=statistics.pstdev(ordered),
        samples_ms=tuple(samples_ms),
        protocol=protocol,
        device=device,
    )


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` intra-op threads, restoring the previous setting after."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def measure_latency(forward: Callable[[], Any], protocol: LatencyProtocol = LatencyProtocol()) -> Latency:
    """Time ``forward()`` — a closure over a fixed input — ``protocol.repeats`` times after warm-up.

    On CUDA the device is synchronised around each run so that the time covers the kernels,
    not just their launch.
    """
    cuda = protocol.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    samples: list[float] = []
    with torch_threads(protocol.threads), torch.inference_mode():
        for _ in range(protocol.warmup_runs):
            forward()
        sync()
        timed = 0.0
        while len(samples) < protocol.repeats or (timed < protocol.min_seconds and len(samples) < protocol.max_repeats):
            start = time.perf_counter()
            forward()
            sync()
            elapsed = time.perf_counter() - start
            timed += elapsed
            samples.append(elapsed * 1e3)
        record = device_record(protocol.device, torch.get_num_threads())
    return summarise(samples, protocol, record)


def fixed_input(vocab_size: int, protocol: LatencyProtocol) -> dict[str, torch.Tensor]:
    """A seeded batch of token ids, shape (batch_size, seq_len), and an all-ones attention mask.

    Ids avoid 0–3 (RoBERTa's special tokens) so that every model sees ordinary tokens.
    """
    generator = torch.Generator().manual_seed(protocol.seed)
    low = 4 if vocab_size > 4 else 0
    ids = torch.randint(low, vocab_size, (protocol.batch_size, protocol.seq_len), generator=generator)
    return {"input_ids": ids.to(protocol.device), "attention_mask": torch.ones_like(ids).to(protocol.device)}


def model_latency(model: torch.nn.Module, protocol: LatencyProtocol = LatencyProtocol()) -> Latency:
    """Latency of a Hugging Face encoder's forward pass on :func:`fixed_input`."""
    # Here, not at the top: hf_config imports transformers, which timing a bare callable does not need.
    from bort.architecture.hf_config import usable_positions

    config = model.config
    usable = usable_positions(config)
    if usable is not None and protocol.seq_len > usable:
        raise BortError(f"latency protocol: seq_len {protocol.seq_len} exceeds the model's {usable} usable positions")
    model = model.to(protocol.device).eval()
    inputs = fixed_input(config.vocab_size, protocol)
    return measure_latency(lambda: model(**inputs), protocol)
