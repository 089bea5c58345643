"""``bort bench``: eager latency of several models side by side, then Bort's fast paths.

Everything runs in one process under one protocol (threads, batch, lengths), so the ratios are
comparable; the device record and library versions are saved with the numbers.
"""

from __future__ import annotations

import gc
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from bort.architecture import Arch, count_params
from bort.architecture.build import build_roberta, numel
from bort.architecture.hf_config import arch_of, roberta_config, usable_positions
from bort.architecture.reference import ROBERTA
from bort.checkpoint import load_encoder
from bort.errors import BortError
from bort.inference.config import FAST_PATHS, NAMED_MODELS, BenchConfig
from bort.inference.parity import parity
from bort.measure.device import cpu_has_native_bf16, device_record
from bort.measure.latency import fixed_input, measure_latency
from bort.util.run_dir import check_output_dir


def resolve_model(name: str) -> tuple[str, Arch]:
    """A known name (``roberta-large``, ``bort``, ...) or ``D,A,H,I``."""
    if name in NAMED_MODELS:
        return name, Arch(*NAMED_MODELS[name])
    try:
        arch = Arch.parse(name)
    except BortError as exc:
        if "," in name:  # meant as D,A,H,I: say what is wrong with the tuple
            raise BortError(f"--models {name}: {exc}")
        raise BortError(f"unknown model {name!r}: expected one of {sorted(NAMED_MODELS)} or D,A,H,I")
    return str(arch), arch


def _build(arch: Arch, seed: int) -> torch.nn.Module:
    # Random weights time exactly like trained ones; no pooler, as in an MLM or task head.
    return build_roberta(arch, ROBERTA, head="base", seed=seed)


def run_bench(config: BenchConfig, work_dir: Path | None = None, progress: Callable[[str], None] = print) -> dict:
    """Measure everything ``config`` asks for; returns a JSON-ready dict."""
    check_output_dir(config.out)
    unknown = sorted(set(config.fast_paths) - set(FAST_PATHS))
    if unknown:
        raise BortError(f"unknown fast path(s) {unknown}: expected some of {list(FAST_PATHS)}")
    resolved: dict[str, Arch | None] = dict(resolve_model(m) for m in config.models)
    if config.model:  # a real model directory: timed with its weights, the subject of every ratio
        subject_model = load_encoder(config.model)
        subject_name, subject_config = Path(config.model).name, subject_model.config
        if subject_name in resolved:  # --models bort beside --model runs/bort: two rows, not one
            subject_name = str(config.model)
        resolved[subject_name] = None
    else:
        subject_model, (subject_name, subject_arch) = None, resolve_model(config.subject)
        resolved.setdefault(subject_name, subject_arch)
        subject_config = roberta_config(subject_arch, ROBERTA)
    vocab_size, usable = subject_config.vocab_size, usable_positions(subject_config)
    for n in config.lengths:
        if n < 1:
            raise BortError(f"--lengths: a sequence length must be at least 1, got {n}")
        if n > usable:
            raise BortError(f"--lengths {n} exceeds the model's {usable} usable positions")

    threads = config.threads or torch.get_num_threads()
    from bort.inference import onnx_runtime

    # Open the ONNX files first: an unloadable one stops the bench before any timing.
    sessions = {f: onnx_runtime.ort_session(f, threads=threads) for f in config.onnx}
    for name, session in sessions.items():
        _check_onnx_file(name, session, subject_name, subject_config.hidden_size)
    results: dict = {
        "setup": {**asdict(config), "threads": threads, "device": device_record("cpu", threads).as_dict()},
        "models": {},
        "fast_paths": {},
    }
    eager_outputs: dict[int, torch.Tensor] = {}
    for name, arch in resolved.items():
        model = _build(arch, config.seed) if arch is not None else subject_model
        entry = {"arch": arch.as_list() if arch is not None else arch_of(subject_config).as_list(),
                 "params_total": count_params(arch, ROBERTA).total if arch is not None else numel(model),
                 "latency": {}}
        for n in config.lengths:
            progress(f"eager fp32  {name:<16} {n:>4} tokens")
            protocol = config.protocol(n)
            inputs = fixed_input(vocab_size if name == subject_name else ROBERTA.size, protocol)
            entry["latency"][str(n)] = measure_latency(lambda: model(**inputs), protocol).as_dict()
            if name == subject_name:
                with torch.inference_mode():
                    eager_outputs[n] = model(**inputs).last_hidden_state.clone()
        results["models"][name] = entry
        if name == subject_name:
            subject_model = model
        else:
            del model
            gc.collect()

    for name, entry in results["models"].items():
        entry["ratio_to_subject"] = {
            str(n): entry["latency"][str(n)]["median_ms"] / results["models"][subject_name]["latency"][str(n)]["median_ms"]
            for n in config.lengths
        }
    results["subject"] = subject_name

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for path_name in config.fast_paths:
            results["fast_paths"][path_name] = _bench_fast_path(
                path_name, subject_model, config, results["models"][subject_name], eager_outputs, vocab_size, Path(tmp),
                progress)
    results["onnx_files"] = {}
    for name, session in sessions.items():
        entry = {}
        for n in config.lengths:
            progress(f"onnx file   {Path(name).name:<16} {n:>4} tokens")
            protocol = config.protocol(n)
            inputs = fixed_input(vocab_size, protocol)
            # The file must be the subject's: the same inputs, an output as wide as its hidden size.
            try:
                output = onnx_runtime.ort_run(session, inputs)
            except Exception as exc:  # ORT reports shape and index errors with its own types
                raise BortError(f"--onnx {name}: ONNX Runtime cannot run it on {n} tokens of the subject's "
                                f"{vocab_size}-token vocabulary: {str(exc).splitlines()[0]}")
            if tuple(output.shape) != tuple(eager_outputs[n].shape):
                raise BortError(f"--onnx {name}: its output has shape {tuple(output.shape)}, the subject "
                                f"{subject_name}'s {tuple(eager_outputs[n].shape)}; time it against the model it was "
                                "exported from (--model DIR)")
            check = parity(eager_outputs[n], output)
            latency = measure_latency(lambda: onnx_runtime.ort_run(session, inputs), protocol)
            eager_ms = results["models"][subject_name]["latency"][str(n)]["median_ms"]
            entry[str(n)] = {"median_ms": latency.median_ms, "speedup": eager_ms / latency.median_ms,
                             "cosine": check.cosine, "max_abs": check.max_abs}
        results["onnx_files"][name] = entry
    return results


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


def _bench_fast_path(path_name, model, config, subject_entry, eager_outputs, vocab_size: int, tmp: Path,
                     progress) -> dict:
    from bort.inference import onnx_runtime, quantize

    if path_name == "bf16" and not cpu_has_native_bf16():
        return {"skipped": "this CPU has no native bf16 (AVX-512 BF16 or AMX); emulated bf16 is slower than fp32"}
    progress(f"preparing   {path_name}")
    if path_name == "torch-int8":
        fast = quantize.dynamic_int8(model)
        run = lambda inputs: fast(**inputs).last_hidden_state  # noqa: E731
    elif path_name == "bf16":
        fast = quantize.bf16(model)
        run = lambda inputs: fast(**inputs).last_hidden_state  # noqa: E731
    else:
        onnx_path = onnx_runtime.export_onnx(model, tmp / "model.onnx") if not (tmp / "model.onnx").exists() else tmp / "model.onnx"
        if path_name == "onnx-int8":
            onnx_path = onnx_runtime.quantize_onnx_int8(onnx_path, tmp / "model.int8.onnx", model.config)
        session = onnx_runtime.ort_session(onnx_path, threads=config.threads or torch.get_num_threads())
        run = lambda inputs: onnx_runtime.ort_run(session, inputs)  # noqa: E731

    out = {}
    for n in config.lengths:
        progress(f"fast path   {path_name:<16} {n:>4} tokens")
        protocol = config.protocol(n)
        inputs = fixed_input(vocab_size, protocol)
        latency = measure_latency(lambda: run(inputs), protocol)
        with torch.inference_mode():
            check = parity(eager_outputs[n], run(inputs))
        eager_ms = subject_entry["latency"][str(n)]["median_ms"]
        out[str(n)] = {
            "median_ms": latency.median_ms,
            "p10_ms": latency.p10_ms,
            "p90_ms": latency.p90_ms,
            "speedup": eager_ms / latency.median_ms,
            "cosine": check.cosine,
            "max_abs": check.max_abs,
        }
    return out
