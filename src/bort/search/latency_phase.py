"""î for T and every kept candidate, measured serially before any training starts.

Latency is measured on a quiet device, one model at a time, with the same protocol for T and every
candidate; each result is appended to ``latency.jsonl`` as it completes, so a resumed search
measures only what is missing.
"""

from __future__ import annotations

import gc
from pathlib import Path

from bort.architecture import Arch, flops_per_sequence
from bort.architecture.hf_config import arch_of, student_config
from bort.errors import BortError
from bort.measure.device import device_record
from bort.measure.latency import LatencyProtocol, model_latency
from bort.util.io import append_log, read_log, write_text_atomic


def protocol_of(cfg) -> LatencyProtocol:
    return LatencyProtocol(batch_size=cfg.latency_batch, seq_len=cfg.latency_seq_len, threads=cfg.latency_threads,
                           warmup_runs=cfg.latency_warmup_runs, repeats=cfg.latency_repeats, device=cfg.latency_device,
                           seed=cfg.seed)


def key(arch: Arch | None) -> str:
    return "T" if arch is None else ",".join(map(str, arch.as_list()))


# What must match for latencies to be compared: the device, its model, and the threads timed with.
SAME_DEVICE = ("device", "device_name", "threads")


def check_device(cfg, path: Path) -> Path:
    """On a resume, the latencies already in ``path`` must come from this device and thread count: mixing
    them would rank candidates by where they were timed. ``--latency-remeasure`` discards them instead."""
    saved = [r["device"] for r in read_log(path) if r.get("device")]
    if cfg.latency != "measured" or not saved:
        return path
    here = device_record(cfg.latency_device, cfg.latency_threads).as_dict()
    differs = [f"{k} {saved[0][k]!r} → {here[k]!r}" for k in SAME_DEVICE if saved[0].get(k) != here[k]]
    if differs and not cfg.latency_remeasure:
        raise BortError(f"{path} holds latencies measured elsewhere ({'; '.join(differs)}); resume there, or pass "
                        "--latency-remeasure to measure every î again here")
    if differs:
        write_text_atomic(path, "")
    return path


def measure_all(cfg, teacher_config, archs: list[Arch], path: Path, progress=None) -> dict[str, dict]:
    """î (ms, or FLOPs with ``cfg.latency == "flops"``) of T (key "T") and of each architecture."""
    from transformers import AutoModel

    done = {r["key"]: r for r in read_log(path)}  # a line cut short by a kill is measured again
    protocol = protocol_of(cfg)
    todo = [a for a in [None, *archs] if key(a) not in done]
    iterator = progress(todo) if progress else todo
    for arch in iterator:
        if cfg.latency == "flops":
            target = arch if arch is not None else arch_of(teacher_config)
            record = {"key": key(arch), "value": float(flops_per_sequence(target, cfg.latency_seq_len) * cfg.latency_batch)}
        else:
            config = teacher_config if arch is None else student_config(teacher_config, arch)
            model = AutoModel.from_config(config, add_pooling_layer=False)  # random weights time like trained ones
            latency = model_latency(model, protocol)
            record = {"key": key(arch), "value": latency.median_ms, "p10_ms": latency.p10_ms, "p90_ms": latency.p90_ms,
                      "samples_ms": list(latency.samples_ms), "device": latency.device.as_dict()}
            del model
            gc.collect()
        append_log(path, record)
        done[record["key"]] = record
    return done
