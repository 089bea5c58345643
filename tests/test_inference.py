"""Fast paths on tiny models: int8 and ONNX outputs agree with eager fp32."""

import numpy as np
import pytest
import torch

from bort.architecture import Arch, Vocab
from bort.architecture.build import build_roberta
from bort.errors import BortError
from bort.inference import onnx_runtime, quantize
from bort.inference.latency import LatencyProtocol, fixed_input
from bort.inference.parity import parity

VOCAB = Vocab(500, 130, 1)


@pytest.fixture(scope="module")
def model():
    return build_roberta(Arch(2, 4, 64, 128), VOCAB, seed=0)


@pytest.fixture(scope="module")
def inputs():
    return fixed_input(VOCAB.size, LatencyProtocol(batch_size=2, seq_len=24))


def test_parity_against_numpy():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 2.0])
    p = parity(torch.tensor(a), b)
    assert p.cosine == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert p.max_abs == pytest.approx(1.0)
    assert parity(a, a).cosine == pytest.approx(1.0)


def test_dynamic_int8_replaces_linears_and_stays_close(model, inputs):
    fast = quantize.dynamic_int8(model)
    assert not any(type(m) is torch.nn.Linear for m in fast.modules())
    assert any(type(m) is torch.nn.Linear for m in model.modules())  # the original is untouched
    with torch.inference_mode():
        check = parity(model(**inputs).last_hidden_state, fast(**inputs).last_hidden_state)
    assert check.cosine > 0.99


def test_bf16_copy(model, inputs):
    fast = quantize.bf16(model)
    assert next(fast.parameters()).dtype == torch.bfloat16 and next(model.parameters()).dtype == torch.float32
    with torch.inference_mode():
        assert parity(model(**inputs).last_hidden_state, fast(**inputs).last_hidden_state).cosine > 0.99


def test_onnx_export_fp32_and_int8(model, inputs, tmp_path):
    path = onnx_runtime.export_onnx(model, tmp_path / "m.onnx")
    assert path.is_file() and not list(tmp_path.glob("*.partial"))
    session = onnx_runtime.ort_session(path, threads=1)
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    assert session.get_outputs()[0].name == "last_hidden_state"
    with torch.inference_mode():
        reference = model(**inputs).last_hidden_state
    out = onnx_runtime.ort_run(session, inputs)
    assert out.shape == tuple(reference.shape)
    assert parity(reference, out).max_abs < 1e-4
    # dynamic axes: another batch size and length through the same graph
    other = fixed_input(VOCAB.size, LatencyProtocol(batch_size=3, seq_len=41))
    with torch.inference_mode():
        assert parity(model(**other).last_hidden_state, onnx_runtime.ort_run(session, other)).max_abs < 1e-4

    int8 = onnx_runtime.quantize_onnx_int8(path, tmp_path / "m.int8.onnx")
    assert int8.stat().st_size < path.stat().st_size
    assert parity(reference, onnx_runtime.ort_run(onnx_runtime.ort_session(int8), inputs)).cosine > 0.99


def test_unloadable_onnx_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(BortError, match="cannot load"):
        onnx_runtime.ort_session(bad)
    with pytest.raises(BortError, match="does not exist"):
        onnx_runtime.ort_session(tmp_path / "missing.onnx")
