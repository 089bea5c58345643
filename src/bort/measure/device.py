"""A record of where a measurement was taken: device, threads and library versions."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU model as the OS reports it (``/proc/cpuinfo`` on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


# The instruction sets a CPU inference path can use, as /proc/cpuinfo names them (recorded with the figures).
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
              "amx_int8", "amx_bf16", "amx_fp16")


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX-512 BF16 or AMX); emulated bf16 is slow."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class DeviceRecord:
    """Everything needed to say where a latency came from, and to refuse comparing unlike runs."""

    device: str
    device_name: str
    threads: int
    torch: str
    transformers: str
    onnxruntime: str
    python: str
    platform: str

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"{self.device_name} ({self.device}), {self.threads} threads; torch {self.torch}, "
            f"transformers {self.transformers}, onnxruntime {self.onnxruntime}, Python {self.python}"
        )


def device_record(device: str = "cpu", threads: int | None = None) -> DeviceRecord:
    import torch

    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
    else:
        name = cpu_name()
    return DeviceRecord(
        device=device,
        device_name=name,
        threads=threads if threads is not None else torch.get_num_threads(),
        torch=_version("torch"),
        transformers=_version("transformers"),
        onnxruntime=_version("onnxruntime"),
        python=platform.python_version(),
        platform=platform.platform(),
    )
