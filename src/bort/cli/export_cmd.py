"""``bort export``: an ONNX file of a model directory, checked for parity with PyTorch."""

from __future__ import annotations

from pathlib import Path

from bort.config import HelpFormatter, add_options
from bort.inference.config import ExportConfig

DESCRIPTION = """\
Export a Hugging Face model directory (any BERT/RoBERTa encoder, with or without a head) to an
ONNX file that ONNX Runtime loads, with dynamic batch and sequence axes. Inputs: input_ids and
attention_mask (int64, batch × sequence); output: logits (with a head) or last_hidden_state.

--int8 quantizes the graph's matrix multiplications to int8 (ONNX Runtime dynamic quantization),
the fastest CPU path. Before the file is written, its outputs are compared with PyTorch's on a
fixed input; the cosine and max |Δ| are printed, and a file below --min-cosine is not written."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="ONNX (fp32 or int8) export, parity-checked", description=DESCRIPTION,
                              formatter_class=HelpFormatter)
    add_options(p, ExportConfig)
    p.set_defaults(run=run, config_class=ExportConfig)


def run(cfg: ExportConfig) -> int:
    from bort.inference.export import export

    export(cfg, progress=lambda message: print(message, flush=True))
    print(f"wrote {cfg.out} ({Path(cfg.out).stat().st_size / 2**20:.1f} MiB)")
    return 0
