"""``bort export``'s work: an ONNX file of a model directory, checked for parity before it is written."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import torch

from bort.checkpoint import load_model
from bort.errors import BortError, first_line
from bort.inference import onnx_runtime
from bort.inference.config import ExportConfig
from bort.inference.parity import Parity, parity
from bort.measure.latency import LatencyProtocol, fixed_input
from bort.tokenizer.load import require_tokenizer
from bort.util.run_dir import check_output_file, make_dirs

DEFAULT_MIN_COSINE = {False: 0.9999, True: 0.99}  # fp32, int8
CHECK_PROTOCOL = LatencyProtocol(batch_size=2, seq_len=64)  # the fixed batch parity is measured on


def export(cfg: ExportConfig, progress: Callable[[str], None] = print) -> Parity:
    """Export, quantize (``cfg.int8``), compare with PyTorch on a fixed batch, and only then move the file to
    ``cfg.out``; a file below ``cfg.min_cosine`` is not written. Returns the parity."""
    out = check_output_file(cfg.out)
    model = load_model(cfg.model_dir)
    require_tokenizer(cfg.model_dir, "whoever serves the ONNX file")  # a file nobody can feed text to is not an export
    min_cosine = cfg.min_cosine if cfg.min_cosine is not None else DEFAULT_MIN_COSINE[cfg.int8]
    created = make_dirs(out.parent)
    try:
        return _export_checked(cfg, model, out, min_cosine, progress)
    except BaseException as exc:
        if created is not None:  # nothing of a failed export is left behind, not even its folder
            shutil.rmtree(created, ignore_errors=True)
        if isinstance(exc, (BortError, KeyboardInterrupt, SystemExit)):
            raise
        raise BortError(f"cannot export {cfg.model_dir}{' to int8' if cfg.int8 else ''}: {first_line(exc)}") from exc


def _export_checked(cfg: ExportConfig, model, out: Path, min_cosine: float, progress) -> Parity:
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        if cfg.optimize:
            progress(f"exporting {cfg.model_dir} to ONNX and fusing it (ONNX Runtime's transformer optimizer) ...")
            path = onnx_runtime.export_onnx_fused(model, Path(tmp) / "model.onnx", opset=cfg.opset)
            progress("fused operators: "
                     f"{onnx_runtime.fused_operators(path) or 'none (the optimizer found no pattern)'}")
        else:
            progress(f"exporting {cfg.model_dir} to ONNX (opset {cfg.opset}) ...")
            path = onnx_runtime.export_onnx(model, Path(tmp) / "model.onnx", opset=cfg.opset)
        if cfg.int8:
            progress("quantizing to int8 ...")
            path = onnx_runtime.quantize_onnx_int8(path, Path(tmp) / "model.int8.onnx", model.config)
        session = onnx_runtime.ort_session(path)
        inputs = onnx_runtime.with_segments(fixed_input(model.config.vocab_size, CHECK_PROTOCOL), model)
        with torch.inference_mode():
            reference = model(**inputs)[0]
        check = parity(reference, onnx_runtime.ort_run(session, inputs))
        progress(f"parity with PyTorch on a fixed batch ({CHECK_PROTOCOL.batch_size} × {CHECK_PROTOCOL.seq_len} "
                 f"tokens): {check}")
        if check.cosine < min_cosine:
            raise BortError(f"parity check failed: cosine {check.cosine:.6f} < {min_cosine}; {out} not written")
        os.replace(path, out)
    return check
