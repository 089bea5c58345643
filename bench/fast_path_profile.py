"""How close is each CPU path to the hardware? Peaks, achieved throughput, and where the fastest path spends its time.

Measures, in one run, on this CPU with --threads threads:

- the fp32 and int8 GEMM peaks at the model's own shapes (bort.inference.peaks, as `bort bench` reports);
- the GFLOP/s each of Bort's paths achieves at batch 1 × --seq-len tokens (Lemma 1's FLOPs over the
  median latency from interleaved rounds), as a share of the matching peak, and the ceiling that the
  int8 peak puts on any int8 path's speed-up over eager fp32;
- an ONNX Runtime profile of the fused int8 graph: the share of time per operator.

    python bench/fast_path_profile.py [--arch 4,8,1024,768] [--seq-len 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

from bort.architecture import Arch, flops_per_sequence
from bort.architecture.build import build_roberta
from bort.architecture.reference import ROBERTA
from bort.inference.bench import fast_path_runner
from bort.inference.peaks import measure_peaks
from bort.measure.device import SIMD_FLAGS, cpu_flags, device_record
from bort.measure.interleaved import time_interleaved
from bort.measure.latency import LatencyProtocol, fixed_input
from bort.util.quiet import quiet_libraries



def profile(path: Path, inputs: dict, threads: int, runs: int = 30) -> dict[str, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.intra_op_num_threads = threads
    options.profile_file_prefix = str(path.with_name("profile"))
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {k: v.numpy() for k, v in inputs.items()}
    for _ in range(runs):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"] / runs / 1e3
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="4,8,1024,768")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arch = Arch.parse(args.arch)
    flops = flops_per_sequence(arch, args.seq_len)
    model = build_roberta(arch, ROBERTA, head="base", seed=0).eval()
    protocol = LatencyProtocol(seq_len=args.seq_len, threads=args.threads, repeats=10, max_rounds=30, max_seconds=90)
    inputs = fixed_input(ROBERTA.size, protocol)

    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        tmp = Path(tmp)
        peaks = measure_peaks(args.seq_len, arch.hidden, arch.intermediate, args.threads, precisions=("fp32", "int8"))
        fp32_peak, int8_peak = peaks["fp32"].gops, peaks["int8"].gops
        paths = {"eager fp32": lambda: model(**inputs)}
        for name in ("torch-int8", "onnx-fp32", "onnx-int8", "onnx-fused", "onnx-fused-int8"):
            run = fast_path_runner(name, model, tmp, args.threads)
            paths[name] = lambda run=run: run(inputs)
        rounds = time_interleaved(paths, protocol, reference="eager fp32")
        fused_int8 = tmp / "fused.int8.onnx"
        ops = profile(fused_int8, inputs, args.threads)

    flags = sorted(cpu_flags() & set(SIMD_FLAGS))
    print(f"{device_record('cpu', args.threads).describe()}; "
          f"SIMD: {', '.join(flags) or 'none of ' + ', '.join(SIMD_FLAGS)}")
    print(f"Bort ⟨{args.arch}⟩ at batch 1 × {args.seq_len} tokens: {flops / 1e9:.2f} GFLOP (Lemma 1); "
          f"{rounds.rounds} interleaved rounds\n")
    print(f"peaks at the model's GEMM shapes: fp32 {fp32_peak:.0f} GFLOP/s "
          f"({peaks['fp32'].kernel}, {peaks['fp32'].isa}); "
          f"int8 {int8_peak:.0f} GOP/s ({peaks['int8'].kernel}, {peaks['int8'].isa}) "
          f"= {int8_peak / fp32_peak:.2f}× fp32\n")
    eager = rounds.latency("eager fp32").median
    print("| path | ms [95%] | speed-up over eager [95%] | achieved GFLOP/s | share of its peak |")
    print("|---|---:|---:|---:|---:|")
    for name in paths:
        latency, ratio = rounds.latency(name), rounds.ratio("eager fp32", name)
        achieved = flops / latency.median / 1e6
        peak = int8_peak if name.endswith("int8") else fp32_peak
        print(f"| {name} | {latency} | {ratio} | {achieved:.0f} | {achieved / peak:.0%} of {peak:.0f} |")
    ceiling = eager / (flops / int8_peak / 1e6)
    print(f"\nEvery FLOP at the int8 peak would take {flops / int8_peak / 1e6:.1f} ms: a ceiling of {ceiling:.1f}× "
          "over eager fp32 for any int8 path on this CPU.")
    total = sum(ops.values())
    print("\nONNX Runtime profile of the fused int8 graph (ms per forward pass, share):")
    for op, ms in list(ops.items())[:8]:
        print(f"  {op:<28} {ms:6.2f} ms  {ms / total:5.1%}")


if __name__ == "__main__":
    main()
