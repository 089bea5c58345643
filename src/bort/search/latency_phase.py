"""î for T and every kept candidate, measured before any training starts.

Candidates are timed together with T in interleaved rounds (T, c1, c2, ..., then again, the order
rotated each round), so that a burst of load on a shared machine slows all of them alike and their
ratios to T — all that W uses of î — hold. Each group's results are appended to ``latency.jsonl``
as it completes, so a resumed search measures only what is missing.
"""

from __future__ import annotations

import gc
from pathlib import Path

from bort.architecture import Arch, count_params, flops_per_sequence
from bort.architecture.hf_config import arch_of, student_config, vocab_of
from bort.errors import BortError
from bort.measure.device import device_record
from bort.measure.interleaved import time_interleaved
from bort.measure.latency import LatencyProtocol, fixed_input
from bort.util.io import append_log, read_log, write_text_atomic


def protocol_of(cfg) -> LatencyProtocol:
    return LatencyProtocol(batch_size=cfg.latency_batch, seq_len=cfg.latency_seq_len, threads=cfg.latency_threads,
                           warmup_runs=cfg.latency_warmup_runs, repeats=cfg.latency_repeats,
                           max_rounds=max(cfg.latency_max_rounds, cfg.latency_repeats),
                           max_seconds=cfg.latency_max_seconds, target_half_width=cfg.latency_target,
                           device=cfg.latency_device, seed=cfg.seed)


def key(arch: Arch | None) -> str:
    return "T" if arch is None else ",".join(map(str, arch.as_list()))


# What must match for latencies to be compared: the device, its model, and the threads timed with.
SAME_DEVICE = ("device", "device_name", "threads")


def check_device(cfg, path: Path) -> Path:
    """When a search continues, the latencies already in ``path`` must come from this device and thread count:
    mixing them would rank candidates by where they were timed. ``--latency-remeasure`` discards them instead."""
    saved = [r["device"] for r in read_log(path) if r.get("device")]
    if cfg.latency != "measured" or not saved:
        return path
    here = device_record(cfg.latency_device, cfg.latency_threads).as_dict()
    differs = [f"{k} {saved[0][k]!r} → {here[k]!r}" for k in SAME_DEVICE if saved[0].get(k) != here[k]]
    if differs and not cfg.latency_remeasure:
        raise BortError(f"{path} holds latencies measured elsewhere ({'; '.join(differs)}); continue the search "
                        "there, or pass --latency-remeasure to measure every î again here")
    if differs:
        write_text_atomic(path, "")
    return path


# Parameters held in memory at once while a group of candidates is timed together (about 6 GB in fp32).
GROUP_PARAMS = 1_500_000_000


def groups_of(archs: list[Arch], teacher_params: int, vocab, budget: int = GROUP_PARAMS) -> list[list[Arch]]:
    """Consecutive groups of ``archs`` whose parameters, with T's, fit in ``budget``: each group is timed
    together with T, in interleaved rounds. A candidate too large for any group is timed alone with T."""
    groups: list[list[Arch]] = []
    current: list[Arch] = []
    held = teacher_params
    for arch in archs:
        p = count_params(arch, vocab).total
        if current and held + p > budget:
            groups.append(current)
            current, held = [], teacher_params
        current.append(arch)
        held += p
    return groups + ([current] if current else [])


def measure_all(cfg, teacher_config, archs: list[Arch], path: Path, on_round=None) -> dict[str, dict]:
    """î (ms, or FLOPs with ``cfg.latency == "flops"``) of T (key "T") and of each architecture.

    Measured: T and the candidates of a group run in the same interleaved rounds; a candidate's î is
    its per-round ratio to T (median, with its 95% interval) times î(T) from the first group, so that
    W's î/î(T) is the ratio itself. Each group's records are appended to ``path`` once it is timed: a
    resumed search times only the groups still missing. ``on_round(group, groups, r)`` after each round.
    """
    done = {r["key"]: r for r in read_log(path)}  # a line cut short by a kill is measured again
    todo = [a for a in archs if key(a) not in done]
    if cfg.latency == "flops":
        for arch in [None, *todo] if "T" not in done else todo:
            target = arch if arch is not None else arch_of(teacher_config)
            record = {"key": key(arch),
                      "value": float(flops_per_sequence(target, cfg.latency_seq_len) * cfg.latency_batch)}
            append_log(path, record)
            done[record["key"]] = record
        return done
    if "T" in done and not todo:
        return done
    vocab = vocab_of(teacher_config)
    groups = groups_of(todo, count_params(arch_of(teacher_config), vocab).total, vocab) or [[]]
    first_group = 1 + max((r.get("group", 0) for r in done.values()), default=0)
    for index, group in enumerate(groups):
        records = _time_group(cfg, teacher_config, group, done.get("T"), first_group + index,
                              (lambda r, i=index: on_round(i, len(groups), r)) if on_round else None)
        for record in records:
            append_log(path, record)
            done[record["key"]] = record
    return done


def _time_group(cfg, teacher_config, group: list[Arch], teacher_record: dict | None, group_id: int,
                on_round) -> list[dict]:
    from transformers import AutoModel

    protocol = protocol_of(cfg)
    models = {"T": AutoModel.from_config(teacher_config, add_pooling_layer=False).eval()}
    for arch in group:  # random weights time like trained ones
        models[key(arch)] = AutoModel.from_config(student_config(teacher_config, arch), add_pooling_layer=False).eval()
    inputs = {name: fixed_input(m.config.vocab_size, protocol) for name, m in models.items()}
    for name, m in models.items():
        m.to(protocol.device)
    forwards = {name: (lambda m=m, x=inputs[name]: m(**x)) for name, m in models.items()}
    rounds = time_interleaved(forwards, protocol, reference="T",
                              on_round=(lambda r, _: on_round(r)) if on_round else None)
    device = device_record(protocol.device, protocol.threads).as_dict()
    common = {"group": group_id, "rounds": rounds.rounds, "load": rounds.load_dict(), "device": device}
    records = []
    if teacher_record is None:
        t = rounds.latency("T")
        teacher_record = {"key": "T", "value": t.median, "low": t.low, "high": t.high,
                          "rounds_ms": rounds.rounds_ms["T"], **common}
        records.append(teacher_record)
    for arch in group:
        ratio = rounds.ratio(key(arch), "T")
        latency = ratio.scaled(teacher_record["value"])
        records.append({"key": key(arch), "value": latency.median, "low": latency.low, "high": latency.high,
                        "ratio_to_T": ratio.as_dict(), "rounds_ms": rounds.rounds_ms[key(arch)], **common})
    del models
    gc.collect()
    return records
