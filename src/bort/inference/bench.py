"""``bort bench``: eager latency of several models side by side, then the subject's fast paths.

Everything runs in one process under one protocol. For each batch size and sequence length, every
row — each model in fp32 eager, each fast path of the subject, each ONNX file — is timed in the same
interleaved rounds (:mod:`bort.measure.interleaved`), and each ratio to the subject is the median of
the per-round ratios with its 95% interval. The device record and library versions are saved with
the numbers.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bort.architecture import Arch, count_params, flops_per_sequence
from bort.architecture.build import build_roberta, numel
from bort.architecture.hf_config import arch_of, roberta_config, usable_positions
from bort.architecture.reference import ROBERTA
from bort.checkpoint import load_encoder
from bort.errors import BortError, first_line
from bort.inference import paths
from bort.inference.config import NAMED_MODELS, BenchConfig
from bort.inference.paths import FAST_PATHS
from bort.inference.peaks import measure_peaks, precision_of
from bort.inference.parity import parity
from bort.measure.device import device_record
from bort.measure.interleaved import time_interleaved
from bort.measure.latency import LatencyProtocol, fixed_input
from bort.util.run_dir import check_output_dir


def resolve_model(name: str) -> tuple[str, Arch | None]:
    """A known name (``roberta-large``, ``bort``, ...), ``D,A,H,I``, or a local model directory (no Arch: it is
    timed with its own weights and vocabulary, e.g. a teacher beside its extracted student)."""
    if name in NAMED_MODELS:
        return name, Arch(*NAMED_MODELS[name])
    if Path(name).is_dir():
        return name, None
    try:
        arch = Arch.parse(name)
    except BortError as exc:
        if "," in name:  # meant as D,A,H,I: say what is wrong with the tuple
            raise BortError(f"--models {name}: {exc}")
        raise BortError(f"unknown model {name!r}: expected one of {sorted(NAMED_MODELS)} or D,A,H,I")
    return str(arch), arch


def _build(arch: Arch, seed: int) -> torch.nn.Module:
    # Random weights time exactly like trained ones; no pooler, as in an MLM or task head.
    return build_roberta(arch, ROBERTA, head="base", seed=seed).eval()


def fast_path_runner(path_name: str, model: torch.nn.Module, tmp: Path, threads: int):
    """``run(inputs) -> output`` for one of :data:`FAST_PATHS`, or a string saying why this CPU skips it."""
    missing = paths.missing_instructions(path_name)
    if missing:
        return f"this CPU lacks {missing}"
    try:
        run = paths.build_runner(path_name, model, tmp, threads)
        probe = fixed_input(model.config.vocab_size, LatencyProtocol(batch_size=1, seq_len=8))
        with torch.inference_mode():
            run(probe)  # a compiler fails on its first call, not when it is set up
    except Exception as exc:  # noqa: BLE001 — a path that fails on this model is reported, not fatal
        return f"failed on this model: {first_line(exc)}"
    return run


def run_bench(config: BenchConfig, work_dir: Path | None = None, progress: Callable[[str], None] = print) -> dict:
    """Measure everything ``config`` asks for; returns a JSON-ready dict (see :func:`_cell`)."""
    check_output_dir(config.out)
    for batch in config.batch:
        for length in config.lengths:
            config.protocol(batch, length)  # the rounds and threads checked before any model is built
    unknown = sorted(set(config.fast_paths) - set(FAST_PATHS))
    if unknown:
        raise BortError(f"unknown fast path(s) {unknown}: expected some of {list(FAST_PATHS)}")
    resolved: dict[str, Arch | None] = dict(resolve_model(m) for m in config.models)
    loaded = {name: load_encoder(name).eval() for name, arch in resolved.items() if arch is None}
    if config.model:  # a real model directory: timed with its weights, the subject of every ratio
        subject_model = load_encoder(config.model).eval()
        subject_name, subject_config = Path(config.model).name, subject_model.config
        if subject_name in resolved:  # --models bort beside --model runs/bort: two rows, not one
            subject_name = str(config.model)
        resolved[subject_name] = None
        loaded[subject_name] = subject_model
    else:
        subject_model, (subject_name, subject_arch) = None, resolve_model(config.subject)
        resolved.setdefault(subject_name, subject_arch)
        subject_config = roberta_config(subject_arch, ROBERTA)
    vocab_size, usable = subject_config.vocab_size, usable_positions(subject_config)
    for name, model in {subject_name: None, **loaded}.items():
        limit = usable if model is None else usable_positions(model.config)
        for n in config.lengths:
            if n > limit:
                raise BortError(f"--lengths {n} exceeds {name}'s {limit} usable positions")
    threads = config.threads or torch.get_num_threads()
    from bort.inference import onnx_runtime

    # Open the ONNX files first: an unloadable one stops the bench before any timing.
    sessions = {f: onnx_runtime.ort_session(f, threads=threads) for f in config.onnx}
    for name, session in sessions.items():
        _check_onnx_file(name, session, subject_name, subject_config.hidden_size)

    rows: dict[str, dict] = {}
    eager: dict[str, torch.nn.Module] = {}
    for name, arch in resolved.items():
        progress(f"building    {name}")
        model = _build(arch, config.seed) if arch is not None else loaded[name]
        eager[name] = model
        rows[name] = {"kind": "model", "arch": (arch or arch_of(model.config)).as_list(),
                      "params_total": count_params(arch, ROBERTA).total if arch is not None else numel(model)}
    fast: dict[str, Callable] = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for path_name in config.fast_paths:
            progress(f"preparing   {subject_name} {path_name}")
            runner = fast_path_runner(path_name, eager[subject_name], Path(tmp), threads)
            row = f"{subject_name} {path_name}"
            rows[row] = {"kind": "fast path", "path": path_name}
            if isinstance(runner, str):
                rows[row]["skipped"] = runner
            else:
                fast[row] = runner
        for name, session in sessions.items():
            rows[name] = {"kind": "onnx file"}
            fast[name] = lambda inputs, session=session: onnx_runtime.ort_run(session, inputs)
        cells = [_cell(config, b, n, subject_name, eager, fast, vocab_size, progress)
                 for b in config.batch for n in config.lengths]
    subject_arch = Arch(*rows[subject_name]["arch"])
    for cell in cells:
        progress(f"peaks       fp32, bf16, int8 GEMMs at {cell['batch']} × {cell['seq_len']} tokens")
        add_roofline(cell, rows, subject_name, measure_peaks(cell["batch"] * cell["seq_len"], subject_arch.hidden,
                                                             subject_arch.intermediate, threads))
    return {"setup": {**asdict(config), "threads": threads, "device": device_record("cpu", threads).as_dict()},
            "subject": subject_name, "rows": rows, "cells": cells}


def _cell(config: BenchConfig, batch: int, seq_len: int, subject: str, eager: dict, fast: dict, vocab_size: int,
          progress) -> dict:
    """Every row at one batch size and length, in interleaved rounds: ms, ratio to the subject and sequences
    per second, each a median with its 95% interval; parity with the eager subject for fast paths and files."""
    protocol = config.protocol(batch, seq_len)
    inputs = {name: fixed_input(model.config.vocab_size, protocol) for name, model in eager.items()}
    subject_inputs = inputs[subject]
    with torch.inference_mode():
        reference = eager[subject](**subject_inputs).last_hidden_state
    checks = {}
    for name, run in fast.items():
        label = f"--onnx {name}" if name.endswith(".onnx") else name  # a file the user gave, or a fast path
        try:
            output = run(subject_inputs)
        except Exception as exc:  # ORT reports shape and index errors with its own types
            raise BortError(f"{label}: cannot run on {batch} × {seq_len} tokens of the subject's "
                            f"{vocab_size}-token vocabulary: {str(exc).splitlines()[0]}")
        if tuple(np.shape(output)) != tuple(reference.shape):
            raise BortError(f"{label}: its output has shape {tuple(np.shape(output))}, the subject {subject}'s "
                            f"{tuple(reference.shape)}; time it against the model it was exported from (--model DIR)")
        checks[name] = parity(reference, output)
    forwards = {name: (lambda m=m, x=inputs[name]: m(**x)) for name, m in eager.items()}
    forwards.update({name: (lambda run=run: run(subject_inputs)) for name, run in fast.items()})

    def report(r, rounds) -> None:
        if r == 1 or r % 5 == 0:
            progress(f"{batch} × {seq_len:>4} tokens: round {r}, {rounds.seconds:.0f} s")

    rounds = time_interleaved(forwards, protocol, reference=subject, on_round=report)
    warning = rounds.load_warning()
    if warning:
        progress(warning)
    cell = {"batch": batch, "seq_len": seq_len, "rounds": rounds.rounds, "stopped_by": rounds.stopped_by,
            "seconds": rounds.seconds, "load": rounds.load_dict(), "rows": {}}
    for name in forwards:
        latency = rounds.latency(name)
        ratio = rounds.ratio(name, subject)
        entry = {"median_ms": latency.median, "low_ms": latency.low, "high_ms": latency.high,
                 "runs_per_round": rounds.runs_per_block[name],
                 "ratio_to_subject": {"median": ratio.median, "low": ratio.low, "high": ratio.high},
                 # seconds per sequence inverted: a higher ms bound is a lower throughput bound
                 "sequences_per_second": {"median": 1e3 * batch / latency.median, "low": 1e3 * batch / latency.high,
                                          "high": 1e3 * batch / latency.low},
                 "rounds_ms": rounds.rounds_ms[name]}
        if name in checks:
            entry.update(cosine=checks[name].cosine, max_abs=checks[name].max_abs)
        cell["rows"][name] = entry
    return cell


def add_roofline(cell: dict, rows: dict, subject: str, peaks: dict) -> None:
    """Each row's achieved throughput (its model's FLOPs by Lemma 1 over its median time) and its share of this
    CPU's peak for the precision its matrix multiplications run in (peaks measured at the subject's shapes)."""
    cell["peaks"] = {precision: peak.as_dict() for precision, peak in peaks.items()}
    for name, entry in cell["rows"].items():
        row = rows[name]
        arch = Arch(*(row.get("arch") or rows[subject]["arch"]))
        precision = precision_of(row.get("path", "")) if row["kind"] != "model" else "fp32"
        if row["kind"] == "onnx file":
            precision = "int8" if "int8" in name else "fp32"
        flops = cell["batch"] * flops_per_sequence(arch, cell["seq_len"])
        achieved = flops / entry["median_ms"] / 1e6
        entry.update(precision=precision, gops=achieved)
        if precision in peaks:
            entry["peak_share"] = achieved / peaks[precision].gops


def _check_onnx_file(name: str, session, subject_name: str, hidden_size: int) -> None:
    """An ONNX file timed against the subject must take its inputs and give an output as wide as its hidden size."""
    inputs = {i.name for i in session.get_inputs()}
    if not inputs <= {"input_ids", "attention_mask", "token_type_ids"} or "input_ids" not in inputs:
        raise BortError(f"--onnx {name}: its inputs are {sorted(inputs)}; expected input_ids and attention_mask "
                        "(a file written by bort export)")
    width = session.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != hidden_size:
        raise BortError(f"--onnx {name}: its output is {width} wide, the subject {subject_name}'s hidden size is "
                        f"{hidden_size}; time it against the model it was exported from (--model DIR)")
    from bort.inference import onnx_runtime

    # One tiny batch before any timing: a graph ONNX Runtime loads but cannot run fails here, in one line.
    try:
        onnx_runtime.ort_run(session, {"input_ids": torch.full((1, 8), 5), "attention_mask": torch.ones(1, 8)})
    except Exception as exc:  # noqa: BLE001 — ONNX Runtime's own error types
        raise BortError(f"--onnx {name}: ONNX Runtime cannot run it on a 1 × 8 batch: {str(exc).splitlines()[0]}")
