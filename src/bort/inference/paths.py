"""The ways bort can run an encoder on a CPU, what each needs from the silicon, and how to build each.

A path is a recipe applied to a loaded model: eager PyTorch in fp32 or bf16, PyTorch's dynamic int8,
``torch.compile`` (Inductor, weights frozen into the graph), and ONNX Runtime's graphs — as exported,
fused by its transformer optimizer, and quantized to int8. ``build_runner`` turns one into a callable
``run(inputs) -> output`` (inputs: ``input_ids`` and ``attention_mask``, int64 of shape
(batch, sequence); output: the model's first output, float32, e.g. (batch, labels) logits).

The paths are listed simplest first: when two run equally fast, the simpler one is the better choice
(fewer moving parts, no compiler, no second runtime), and :mod:`bort.inference.choice` uses this order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bort.errors import BortError
from bort.measure.device import cpu_flags

if TYPE_CHECKING:  # torch and numpy load only when a path is built: the CLI lists the paths without them
    import numpy as np
    import torch


@dataclass(frozen=True)
class PathSpec:
    name: str
    precision: str  # the arithmetic of its matrix multiplications: fp32, bf16 or int8
    runtime: str  # "torch" (the artefact is the model directory) or "onnx" (a .onnx graph)
    description: str
    needs: tuple[str, ...] = ()  # CPU flags, any one of which the path needs to be worth running
    needs_name: str = ""  # the instruction set those flags stand for, as a user would name it


PATHS: dict[str, PathSpec] = {spec.name: spec for spec in (
    PathSpec("eager", "fp32", "torch", "PyTorch eager in fp32: the reference every other path is checked against"),
    PathSpec("bf16", "bf16", "torch", "PyTorch eager with bf16 weights and activations",
             ("avx512_bf16", "amx_bf16"), "native bf16 (AVX-512 BF16 or AMX-BF16)"),
    PathSpec("torch-int8", "int8", "torch", "PyTorch dynamic int8 (fbgemm; weights per output channel, FFN output "
             "projections in fp32)", ("avx2",), "AVX2"),
    PathSpec("compile-fp32", "fp32", "torch", "torch.compile (Inductor, frozen weights, oneDNN fusions) in fp32"),
    PathSpec("compile-bf16", "bf16", "torch", "torch.compile (Inductor, frozen weights) with bf16 weights",
             ("avx512_bf16", "amx_bf16"), "native bf16 (AVX-512 BF16 or AMX-BF16)"),
    PathSpec("onnx-fp32", "fp32", "onnx", "ONNX Runtime, the graph as exported"),
    PathSpec("onnx-fused", "fp32", "onnx", "ONNX Runtime, fused by its transformer optimizer (Attention, "
             "SkipLayerNormalization, BiasGelu)"),
    PathSpec("onnx-int8", "int8", "onnx", "ONNX Runtime dynamic int8 (weights per output channel, FFN output "
             "projections in fp32)", ("avx2",), "AVX2"),
    PathSpec("onnx-fused-int8", "int8", "onnx", "ONNX Runtime fused, then dynamic int8 (QAttention; FFN output "
             "projections in fp32)", ("avx2",), "AVX2"),
    PathSpec("onnx-fused-int8-sq", "int8", "onnx", "onnx-fused-int8 with SmoothQuant on the FFN input projections "
             "(outlier channels moved into the weights, calibrated on 4 × 128 fixed tokens)", ("avx2",), "AVX2"),
)}
CALIBRATION = (4, 128)  # sequences × tokens of the fixed batch SmoothQuant measures activation maxima on
FAST_PATHS = tuple(name for name in PATHS if name != "eager")  # what bort bench times beside eager


def missing_instructions(name: str, flags: frozenset[str] | None = None) -> str | None:
    """None when this CPU can run path ``name`` well; otherwise the instruction set it lacks, in words.

    Only x86 CPUs are judged by their flags (``/proc/cpuinfo``): elsewhere (ARM, or an OS that does not list
    them) every path is tried, and the timing and parity checks decide."""
    spec = PATHS[name]
    flags = cpu_flags() if flags is None else flags
    if not flags & {"sse2", "avx", "avx2"}:  # not an x86 CPU, or its flags are unknown
        return None
    if spec.needs and not set(spec.needs) & flags:
        return spec.needs_name
    return None


def _eager_runner(model: "torch.nn.Module") -> Callable:
    return lambda inputs: model(**inputs)[0].float()


def compiled(model: "torch.nn.Module", dtype=None) -> "torch.nn.Module":
    """``torch.compile`` with Inductor's freezing: weights become constants, so oneDNN can pre-pack them and
    fuse bias and activation into the matrix multiplications. Compiles on the first call (tens of seconds)."""
    import torch

    # Inductor's own option, for this compilation only (not the process-wide config).
    return torch.compile(copy.deepcopy(model).eval().to(dtype or torch.float32), options={"freezing": True})


def build_runner(name: str, model: "torch.nn.Module", folder: Path, threads: int | None = None) -> Callable:
    """``run(inputs) -> output`` for path ``name`` of ``model``; ONNX files are written into ``folder``."""
    from bort.inference import onnx_runtime, quantize

    missing = missing_instructions(name)
    if missing:
        raise BortError(f"path {name} needs {missing}, which this CPU lacks")
    if name == "eager":
        return _eager_runner(model)
    if name == "bf16":
        return _eager_runner(quantize.bf16(model))
    if name == "torch-int8":
        return _eager_runner(quantize.dynamic_int8(model))
    if name.startswith("compile"):
        import torch

        return _eager_runner(compiled(model, torch.bfloat16 if name.endswith("bf16") else torch.float32))
    path = onnx_file(name, model, folder)
    session = onnx_runtime.ort_session(path, threads=threads)
    return lambda inputs: onnx_runtime.ort_run(session, inputs)


def onnx_file(name: str, model: "torch.nn.Module", folder: Path) -> Path:
    """The ONNX graph of an ``onnx-*`` path, written once into ``folder`` and reused by the other paths."""
    from bort.inference import onnx_runtime

    fused, smoothed = name.startswith("onnx-fused"), name.endswith("-sq")
    path = folder / ("smoothed.onnx" if smoothed else "fused.onnx" if fused else "model.onnx")
    if not path.exists():
        if smoothed:
            model = _smoothed(model)
        (onnx_runtime.export_onnx_fused if fused else onnx_runtime.export_onnx)(model, path)
    if "int8" in name:
        target = path.with_suffix(".int8.onnx")
        if not target.exists():
            onnx_runtime.quantize_onnx_int8(path, target, model.config)
        return target
    return path


def _smoothed(model: "torch.nn.Module") -> "torch.nn.Module":
    from bort.architecture.hf_config import usable_positions
    from bort.inference.smooth import smooth_ffn_inputs
    from bort.measure.latency import LatencyProtocol, fixed_input

    batch, tokens = CALIBRATION
    tokens = min(tokens, usable_positions(model.config) or tokens)
    calibration = fixed_input(model.config.vocab_size, LatencyProtocol(batch_size=batch, seq_len=tokens, seed=1))
    return smooth_ffn_inputs(model, [calibration])


def as_numpy(output) -> "np.ndarray":
    """A path's output as a float32 array (torch tensors are detached first)."""
    import numpy as np

    from bort.inference.parity import to_numpy

    return np.asarray(to_numpy(output), dtype=np.float32)
