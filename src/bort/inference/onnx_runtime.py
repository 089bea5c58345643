"""ONNX export of a Hugging Face encoder, int8 quantization of the ONNX graph, and ORT sessions."""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from bort.errors import BortError

INPUT_NAMES = ("input_ids", "attention_mask")
SEGMENTS = "token_type_ids"


def input_names(model: torch.nn.Module) -> tuple[str, ...]:
    """The graph's inputs: ``input_ids`` and ``attention_mask``, and ``token_type_ids`` for a model with more than
    one segment (BERT, whose sentence pairs mark their second text 1); RoBERTa has one."""
    return INPUT_NAMES + ((SEGMENTS,) if getattr(model.config, "type_vocab_size", 1) > 1 else ())


def with_segments(inputs: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A fixed check batch as pairs when the model has segments: each row's second half segment 1, so that a
    graph which mishandled ``token_type_ids`` would fail the parity check made on it."""
    if SEGMENTS not in input_names(model):
        return inputs
    types = torch.zeros_like(inputs["input_ids"])
    types[:, types.shape[1] // 2:] = 1
    return {**inputs, SEGMENTS: types}


class _FirstOutput(torch.nn.Module):
    """Wraps an HF model so that the export has exactly one output tensor (logits or hidden states)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)[0]


class _FirstOutputOfPairs(_FirstOutput):
    """The same for a model with segments: ``token_type_ids`` is an input too."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                          return_dict=True)[0]


def _traceable(model: torch.nn.Module) -> tuple[torch.nn.Module, tuple[str, ...], tuple[torch.Tensor, ...]]:
    """The wrapped model, its input names and a sample input: 2 × 16 tokens (a pair's second half as segment 1)."""
    names = input_names(model)
    sample = with_segments({"input_ids": torch.full((2, 16), 5, dtype=torch.long),
                            "attention_mask": torch.ones(2, 16, dtype=torch.long)}, model)
    wrapped = _FirstOutputOfPairs(model) if SEGMENTS in names else _FirstOutput(model)
    return wrapped, names, tuple(sample[name] for name in names)


def output_name(model: torch.nn.Module) -> str:
    """``logits`` for a model with a task or LM head, ``last_hidden_state`` for a bare encoder."""
    return "last_hidden_state" if model.__class__.__name__.endswith("Model") else "logits"


def export_onnx(model: torch.nn.Module, path: str | Path, opset: int = 18) -> Path:
    """Export ``model`` to ONNX with dynamic batch and sequence axes; written atomically.

    Inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids``: :func:`input_names`), each int64 of shape
    (batch, sequence); one output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    wrapped, names, sample = _traceable(model.eval())
    dims = {0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("sequence", min=2, max=4096)}
    # The exporter is chatty (progress lines, warnings about optional torchvision ops).
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                sample,
                str(tmp),
                input_names=list(names),
                output_names=[output_name(model)],
                dynamic_shapes={name: dims for name in names},
                opset_version=opset,
                dynamo=True,
                external_data=False,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export_onnx_fused(model: torch.nn.Module, path: str | Path, opset: int = 18) -> Path:
    """Export ``model`` so that ONNX Runtime's transformer optimizer fuses it, then fuse it; written atomically.

    The optimizer recognises BERT attention only in the graph the TorchScript exporter writes from
    eager (not SDPA) attention; it then fuses each layer's attention into one ``Attention`` node, the
    residual additions into ``SkipLayerNormalization`` and bias + GELU into ``BiasGelu``. Same inputs and
    output as :func:`export_onnx`.
    """
    from onnxruntime.transformers import optimizer

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    eager = copy.deepcopy(model).eval()
    eager.set_attn_implementation("eager")
    config = eager.config
    raw = path.with_name(path.name + ".unfused.partial")
    tmp = path.with_name(path.name + ".partial")
    wrapped, names, sample = _traceable(eager)
    axes = {0: "batch", 1: "sequence"}
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, sample, str(raw), input_names=list(names),
                              output_names=[output_name(model)], dynamic_axes={name: axes for name in names},
                              opset_version=opset, dynamo=False)
            fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                             hidden_size=config.hidden_size, opt_level=1)
        fused.save_model_to_file(str(tmp))
        os.replace(tmp, path)
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return path


def fused_operators(path: str | Path) -> dict[str, int]:
    """How many of each fused operator (Attention, SkipLayerNormalization, BiasGelu) a graph holds."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if node.op_type in FUSED_OPERATORS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


FUSED_OPERATORS = ("Attention", "QAttention", "SkipLayerNormalization", "BiasGelu")


def ffn_output_nodes(path: str | Path, intermediate_size: int, hidden_size: int) -> list[str]:
    """The MatMul nodes of the feed-forward output projections: those whose constant weight is (I, H)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {init.name: list(init.dims) for init in graph.initializer}
    return [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm")
            and any(shapes.get(name) == [intermediate_size, hidden_size] for name in node.input)]


def quantize_onnx_int8(source: str | Path, target: str | Path, config=None) -> Path:
    """Dynamic int8 quantization of an ONNX graph's MatMuls (ONNX Runtime's quantizer), atomically.

    Weights per output channel; with the model's ``config``, the feed-forward output projections stay
    fp32 (as in :func:`bort.inference.quantize.dynamic_int8`). On all-MiniLM-L6-v2 and SST-2 sentences
    the hidden states' cosine with fp32 goes from 0.949 (per-tensor, every MatMul) to 0.994.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep_fp32 = ffn_output_nodes(source, config.intermediate_size, config.hidden_size) if config is not None else []
    if config is not None and config.intermediate_size == config.hidden_size:
        keep_fp32 = []  # (I, H) would name the attention projections too: quantize them all
    target = Path(target)
    tmp = target.with_name(target.name + ".partial")
    root = logging.getLogger()
    level = root.level
    # The quantizer logs a warning suggesting optional pre-processing on every call.
    root.setLevel(logging.ERROR)
    try:
        # A fused graph's contrib operators (Attention, ...) defeat ONNX shape inference: say that
        # untyped tensors are float.
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Attention"], per_channel=True,
                         nodes_to_exclude=keep_fp32, extra_options={"DefaultTensorType": 1})
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)
    return target


def ort_session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session with thread spinning off.

    Spinning threads keep busy-waiting after a run and slow whatever is timed next in the same
    process, so they are turned off for fair side-by-side numbers.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise BortError(f"ONNX file {path} does not exist")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for a bad graph
        raise BortError(f"ONNX Runtime cannot load {path}: {str(exc).splitlines()[0]}")


def ort_run(session, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """Run a session on torch inputs (only the names the graph declares) and return its first output.
    A graph that declares ``token_type_ids`` (a BERT's) gets zeros when none are given: one segment, as the PyTorch
    model assumes."""
    wanted = {i.name for i in session.get_inputs()}
    feed = {k: v.cpu().numpy().astype(np.int64) for k, v in inputs.items() if k in wanted}
    if "token_type_ids" in wanted and "token_type_ids" not in feed:
        feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
    return session.run(None, feed)[0]
