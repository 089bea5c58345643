"""``bort export``: an ONNX file of a model directory, checked for parity with PyTorch."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

DESCRIPTION = """\
Export a Hugging Face model directory (any BERT/RoBERTa encoder, with or without a head) to an
ONNX file that ONNX Runtime loads, with dynamic batch and sequence axes. Inputs: input_ids and
attention_mask (int64, batch × sequence); output: logits (with a head) or last_hidden_state.

--int8 quantizes the graph's matrix multiplications to int8 (ONNX Runtime dynamic quantization),
the fastest CPU path. Before the file is written, its outputs are compared with PyTorch's on a
fixed input; the cosine and max |Δ| are printed, and a file below --min-cosine is not written."""

DEFAULT_MIN_COSINE = {False: 0.9999, True: 0.99}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="ONNX (fp32 or int8) export, parity-checked", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a local Hugging Face model directory")
    p.add_argument("--onnx", action="store_true", required=True, help="export to ONNX (the one format for now)")
    p.add_argument("--int8", action="store_true", help="quantize weights to int8 (dynamic quantization)")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--min-cosine", type=float, default=None,
                   help="refuse the export below this parity (default: 0.9999 fp32, 0.99 int8)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default: %(default)s)")
    p.set_defaults(run=run)


def run(args) -> int:
    import os

    import torch

    from bort.checkpoint import load_model
    from bort.errors import BortError
    from bort.inference import onnx_runtime
    from bort.inference.latency import LatencyProtocol, fixed_input
    from bort.inference.parity import parity

    out = Path(args.out)
    if out.is_dir():
        raise BortError(f"--out {out} is a directory; expected a file path such as model.onnx")
    model = load_model(args.model_dir)
    min_cosine = args.min_cosine if args.min_cosine is not None else DEFAULT_MIN_COSINE[args.int8]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        print(f"exporting {args.model_dir} to ONNX (opset {args.opset}) ...", flush=True)
        path = onnx_runtime.export_onnx(model, Path(tmp) / "model.onnx", opset=args.opset)
        if args.int8:
            print("quantizing to int8 ...", flush=True)
            path = onnx_runtime.quantize_onnx_int8(path, Path(tmp) / "model.int8.onnx")
        session = onnx_runtime.ort_session(path)
        inputs = fixed_input(model.config.vocab_size, LatencyProtocol(batch_size=2, seq_len=64))
        with torch.inference_mode():
            reference = model(**inputs)[0]
        check = parity(reference, onnx_runtime.ort_run(session, inputs))
        print(f"parity with PyTorch on a fixed batch (2 × 64 tokens): {check}")
        if check.cosine < min_cosine:
            raise BortError(f"parity check failed: cosine {check.cosine:.6f} < {min_cosine}; {out} not written")
        os.replace(path, out)
    size_mb = out.stat().st_size / 2**20
    print(f"wrote {out} ({size_mb:.1f} MiB)")
    return 0
