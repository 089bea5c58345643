"""This CPU's own matrix-multiplication peaks, one per precision, at the shapes a model runs.

A path's speed means little alone: what tells a user whether there is anything left to gain is its
achieved throughput (the model's FLOPs over its latency) as a share of the peak of its precision on
this very CPU. Each peak is the best of a few timed calls of the kernel family the paths run, at each
of the model's GEMM shapes (tokens × H × H for the attention projections, tokens × H × I and
tokens × I × H for the feed-forward block), and the largest over shapes is kept:

- fp32: ``torch.mm`` (MKL / oneDNN sgemm);
- bf16: ``torch.mm`` on bf16 tensors (oneDNN's brgemm: AVX-512 BF16 or AMX where the CPU has them);
- int8: u8 × s8 → s32, the best of ONNX Runtime's ``MatMulInteger`` (MLAS) and PyTorch's fbgemm
  dynamic int8 linear — the two kernels the int8 paths run.

The instruction set is read from oneDNN's own verbose log where oneDNN ran the kernel, and otherwise
named from the CPU flags that the library's dispatch keys on.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bort.measure.device import cpu_flags

PRECISIONS = ("fp32", "bf16", "int8")


@dataclass(frozen=True)
class Peak:
    precision: str  # fp32, bf16 or int8
    gops: float  # billions of operations per second (GFLOP/s, or GOP/s for int8), the best shape's
    shape: tuple[int, int, int]  # (M, K, N) of the best shape
    kernel: str  # what ran, e.g. "torch.mm (oneDNN brg_matmul)"
    isa: str  # the instruction set that ran, e.g. "avx512_core_bf16", "AVX-512 VNNI"

    def as_dict(self) -> dict:
        return asdict(self)


def gemm_shapes(tokens: int, hidden: int, intermediate: int) -> list[tuple[int, int, int]]:
    """(M, K, N) of an encoder layer's matrix multiplications over ``tokens`` = batch × sequence rows."""
    return sorted({(tokens, hidden, hidden), (tokens, hidden, intermediate), (tokens, intermediate, hidden)})


def best_seconds(run: Callable[[], object], repeats: int = 15, warmup: int = 3, budget_s: float = 0.5) -> float:
    """The fastest of ``repeats`` calls after ``warmup`` untimed ones (fewer once ``budget_s`` is spent, at least
    one): a peak, not a typical time."""
    for _ in range(warmup):
        run()
    best, spent = float("inf"), 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget_s:
            break
    return best


@contextlib.contextmanager
def _captured_stdout(sink: list[str]):
    """Collect what C libraries write to file descriptor 1 (oneDNN's verbose log goes there)."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            capture.seek(0)
            sink.append(capture.read().decode(errors="replace"))


def onednn_implementation(run: Callable[[], object]) -> str | None:
    """The oneDNN implementation a call runs, e.g. ``brg_matmul:avx512_core_amx``; None when oneDNN did not run."""
    sink: list[str] = []
    with _captured_stdout(sink), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
        run()
    for line in sink[0].splitlines():
        fields = line.split(",")
        if len(fields) > 6 and fields[2] == "primitive" and fields[3] == "exec":
            return fields[6] or fields[5]
    return None


def int8_isa() -> str:
    """The int8 dot-product instructions MLAS and fbgemm dispatch to on this CPU, from its flags."""
    flags = cpu_flags()
    if "amx_int8" in flags:
        return "AMX (amx_int8)"
    if "avx512_vnni" in flags:
        return "AVX-512 VNNI"
    if "avx_vnni" in flags:
        return "AVX-VNNI"
    if "avx2" in flags:
        return "AVX2 (no VNNI)"
    return "no AVX2"


def fp32_isa() -> str:
    return {"AVX512": "AVX-512", "AVX2": "AVX2"}.get(torch.backends.cpu.get_cpu_capability(),
                                                     torch.backends.cpu.get_cpu_capability())


def _float_peak(precision: str, shapes, repeats: int) -> Peak:
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16
    best = (0.0, shapes[0])
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for m, k, n in shapes:
            a = torch.randn(m, k, generator=generator).to(dtype)
            b = torch.randn(k, n, generator=generator).to(dtype)
            gops = 2 * m * k * n / best_seconds(lambda: torch.mm(a, b), repeats) / 1e9
            best = max(best, (gops, (m, k, n)))
        m, k, n = best[1]
        a, b = torch.ones(m, k, dtype=dtype), torch.ones(k, n, dtype=dtype)
        implementation = onednn_implementation(lambda: torch.mm(a, b))
    if implementation:
        kernel, isa = f"torch.mm (oneDNN {implementation.split(':')[0]})", implementation.split(":")[-1]
    else:
        kernel, isa = "torch.mm (MKL)" if precision == "fp32" else "torch.mm", fp32_isa()
    return Peak(precision, best[0], best[1], kernel, isa)


def _ort_int8_seconds(m: int, k: int, n: int, folder: Path, threads: int | None, repeats: int) -> float:
    import onnx
    from onnx import TensorProto, helper

    from bort.inference.onnx_runtime import ort_session

    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["C"])], "int8_gemm",
                              [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k]),
                               helper.make_tensor_value_info("B", TensorProto.INT8, [k, n])],
                              [helper.make_tensor_value_info("C", TensorProto.INT32, [m, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = folder / f"gemm_{m}_{k}_{n}.onnx"
    onnx.save(model, str(path))
    session = ort_session(path, threads=threads)
    rng = np.random.default_rng(0)
    feed = {"A": rng.integers(0, 255, (m, k), dtype=np.uint8), "B": rng.integers(-127, 127, (k, n), dtype=np.int8)}
    return best_seconds(lambda: session.run(None, feed), repeats)


def _fbgemm_int8_seconds(m: int, k: int, n: int, repeats: int) -> float:
    from bort.inference.quantize import dynamic_int8

    linear = torch.nn.Sequential(torch.nn.Linear(k, n))
    quantized = dynamic_int8(linear)  # the same call the torch-int8 path makes
    x = torch.randn(m, k)
    with torch.inference_mode():
        return best_seconds(lambda: quantized(x), repeats)


def _int8_peak(shapes, threads: int | None, repeats: int) -> Peak:
    best = (0.0, shapes[0], "")
    with tempfile.TemporaryDirectory() as tmp:
        for m, k, n in shapes:
            ops = 2 * m * k * n / 1e9
            best = max(best, (ops / _ort_int8_seconds(m, k, n, Path(tmp), threads, repeats), (m, k, n),
                              "ONNX Runtime MatMulInteger (MLAS)"))
            best = max(best, (ops / _fbgemm_int8_seconds(m, k, n, repeats), (m, k, n),
                              "PyTorch dynamic int8 linear (fbgemm)"))
    return Peak("int8", best[0], best[1], best[2], int8_isa())


def measure_peaks(tokens: int, hidden: int, intermediate: int, threads: int | None = None,
                  precisions=PRECISIONS, repeats: int = 15) -> dict[str, Peak]:
    """Each precision's peak on this CPU at the model's GEMM shapes (see the module's docstring); bf16 is left
    out on an x86 CPU without native bf16."""
    from bort.measure.latency import torch_threads

    from bort.measure.device import cpu_has_native_bf16

    shapes = gemm_shapes(tokens, hidden, intermediate)
    peaks = {}
    with torch_threads(threads):
        for precision in precisions:
            if precision == "bf16" and cpu_flags() and not cpu_has_native_bf16():
                continue  # emulated bf16 is no peak, and at large shapes it takes minutes to time
            peaks[precision] = (_int8_peak(shapes, threads, repeats) if precision == "int8"
                                else _float_peak(precision, shapes, repeats))
    return peaks


def precision_of(path_name: str) -> str:
    """The arithmetic a path runs its matrix multiplications in: ``int8``, ``bf16`` or ``fp32``."""
    if "int8" in path_name:
        return "int8"
    if "bf16" in path_name:
        return "bf16"
    return "fp32"
