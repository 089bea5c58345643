"""Task accuracy through each CPU fast path: a fine-tuned classifier's dev score, eager vs int8 and ONNX.

Parity numbers (cosine with fp32) say little about what a user loses; this scores the same dev set
through eager fp32, PyTorch dynamic int8 and ONNX Runtime fp32 / int8, as exported and as fused by
ONNX Runtime's transformer optimizer — bort's int8 (weights per output channel, feed-forward outputs
in fp32) beside the naive one (every Linear, one scale per tensor) — and prints accuracy, the points lost, \
the share of predictions that agree with eager, and
the median batch time, all measured in one run.

    python bench/int8_accuracy.py runs/glue-real/SST-2 [--task glue/SST-2] [--data ../shared/data/glue/SST-2]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from bort.checkpoint import load_model
from bort.tasks.encode import collate, encode
from bort.inference import onnx_runtime, quantize
from bort.inference.parity import parity
from bort.measure.device import device_record
from bort.tasks import get_task
from bort.tasks.predict import score
from bort.tokenizer import load_tokenizer
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]


def naive_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Every Linear, per-tensor weight scales: PyTorch's default dynamic quantization."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {torch.nn.Linear}, dtype=torch.qint8)


def outputs_of(run, batches) -> tuple[np.ndarray, float]:
    """Logits over every batch, and the median seconds per batch."""
    logits, seconds = [], []
    for batch in batches:
        started = time.perf_counter()
        logits.append(np.asarray(run(batch), dtype=np.float32))
        seconds.append(time.perf_counter() - started)
    return np.concatenate(logits), statistics.median(seconds)


def main() -> int:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a fine-tuned classifier directory (bort finetune's --out)")
    parser.add_argument("--task", default="glue/SST-2")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "glue" / "SST-2"))
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    task = get_task(args.task)
    examples = task.read(Path(args.data), "dev")
    model, tokenizer = load_model(args.model), load_tokenizer(args.model)
    encoded = encode(tokenizer, examples, args.max_len)
    batches = []
    for start in range(0, len(examples), args.batch_size):
        batch = collate(encoded, list(range(start, min(start + args.batch_size, len(examples)))),
                        tokenizer.pad_token_id)
        if onnx_runtime.SEGMENTS not in onnx_runtime.input_names(model):  # (a BERT's pairs keep their segments)
            batch.pop(onnx_runtime.SEGMENTS, None)
        batches.append(batch)

    def torch_run(m):
        return lambda batch: m(**batch).logits.detach().numpy()

    paths = {"eager fp32": torch_run(model), "PyTorch int8, naive": torch_run(naive_int8(model)),
             "PyTorch int8, bort": torch_run(quantize.dynamic_int8(model))}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = onnx_runtime.export_onnx(model, Path(tmp) / "model.onnx")
        naive = onnx_runtime.quantize_onnx_int8(fp32, Path(tmp) / "naive.onnx")  # no config: every MatMul
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(Path(tmp) / "pertensor.onnx"), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm"], per_channel=False)
        ours = onnx_runtime.quantize_onnx_int8(fp32, Path(tmp) / "bort.onnx", model.config)
        fused = onnx_runtime.export_onnx_fused(model, Path(tmp) / "fused.onnx")
        print(f"fused operators: {onnx_runtime.fused_operators(fused)}", file=sys.stderr)
        fused_all = onnx_runtime.quantize_onnx_int8(fused, Path(tmp) / "fused.all.onnx")  # every MatMul and Attention
        fused_ours = onnx_runtime.quantize_onnx_int8(fused, Path(tmp) / "fused.bort.onnx", model.config)
        for name, path in (("ONNX Runtime fp32", fp32), ("ONNX Runtime int8, naive", Path(tmp) / "pertensor.onnx"),
                           ("ONNX Runtime int8, per channel", naive), ("ONNX Runtime int8, bort", ours),
                           ("ONNX Runtime fused fp32", fused), ("ONNX Runtime fused int8, per channel", fused_all),
                           ("ONNX Runtime fused int8, bort", fused_ours)):
            session = onnx_runtime.ort_session(path)
            paths[name] = (lambda s: (lambda batch: onnx_runtime.ort_run(s, batch)))(session)
        results = {}
        with torch.inference_mode():
            for name, run in paths.items():
                logits, seconds = outputs_of(run, batches)
                results[name] = (score(task, examples, logits), logits, seconds)

    metric = task.metrics[0]
    eager_score, eager_logits, eager_seconds = results["eager fp32"]
    eager_pred = eager_logits.argmax(-1)
    print(f"{args.model} on {task.name} dev ({len(examples)} examples, ≤{args.max_len} tokens, batch "
          f"{args.batch_size}); {device_record('cpu').describe()}\n")
    print(f"| path | {metric} | points vs eager | agree with eager | cosine of the logits | ms per batch | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (scores, logits, seconds) in results.items():
        pred = logits.argmax(-1)
        cosine = parity(torch.from_numpy(eager_logits), logits).cosine
        print(f"| {name} | {100 * scores[metric]:.2f} | {100 * (scores[metric] - eager_score[metric]):+.2f} | "
              f"{100 * float(np.mean(pred == eager_pred)):.1f}% | {cosine:.5f} | {1000 * seconds:.0f} | "
              f"{eager_seconds / seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
