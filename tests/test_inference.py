"""Fast paths on tiny models: int8 and ONNX outputs agree with eager fp32."""

import numpy as np
import pytest
import torch

from bort.architecture import Arch, Vocab
from bort.architecture.build import build_roberta
from bort.errors import BortError
from bort.inference import onnx_runtime, quantize
from bort.inference.parity import Parity, parity
from bort.measure.latency import LatencyProtocol, fixed_input

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
    # computed in float64 whatever the inputs: float32 rounding would show at this closeness
    rng = np.random.default_rng(0)
    x = rng.normal(size=200_000).astype(np.float32)
    y = (x + rng.normal(scale=1e-4, size=x.size)).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    assert parity(x, y).cosine == pytest.approx(x64 @ y64 / np.linalg.norm(x64) / np.linalg.norm(y64), abs=1e-12)
    # zero and empty outputs
    assert parity(np.zeros(3), np.zeros(3)) == Parity(cosine=1.0, max_abs=0.0)
    assert parity(np.zeros(3), np.ones(3)) == Parity(cosine=0.0, max_abs=1.0)
    assert parity(np.zeros(0), np.zeros(0)) == Parity(cosine=1.0, max_abs=0.0)
    with pytest.raises(ValueError, match=r"outputs differ in size: \(3,\) vs \(4,\)"):
        parity(np.zeros(3), np.zeros(4))


def test_dynamic_int8_replaces_linears_but_the_ffn_outputs_and_stays_close(model, inputs):
    fast = quantize.dynamic_int8(model)
    kept = sorted(name for name, m in fast.named_modules() if type(m) is torch.nn.Linear)
    layers = model.config.num_hidden_layers
    assert kept == sorted(f"encoder.layer.{i}.output.dense" for i in range(layers))  # I → H stays fp32
    assert sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in fast.modules()) == 5 * layers
    assert sum(type(m) is torch.nn.Linear for m in model.modules()) == 6 * layers  # the original is untouched
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


def test_onnx_honours_the_attention_mask(model, tmp_path):
    """A padded batch through ONNX Runtime equals eager PyTorch with the same mask."""
    path = onnx_runtime.export_onnx(model, tmp_path / "m.onnx")
    session = onnx_runtime.ort_session(path, threads=1)
    inputs = fixed_input(VOCAB.size, LatencyProtocol(batch_size=3, seq_len=20))
    inputs["attention_mask"][0, 12:] = 0
    inputs["attention_mask"][2, 5:] = 0
    inputs["input_ids"][inputs["attention_mask"] == 0] = 1
    with torch.inference_mode():
        reference = model(**inputs).last_hidden_state
        unmasked = model(input_ids=inputs["input_ids"]).last_hidden_state
    assert parity(reference, unmasked).max_abs > 1e-2  # the mask matters for these inputs
    assert parity(reference, onnx_runtime.ort_run(session, inputs)).max_abs < 1e-4


def test_fused_export_has_one_attention_node_per_layer_and_honours_the_mask(model, tmp_path):
    """ONNX Runtime's optimizer fuses each layer (Attention, 2 skip-LayerNorms, bias-GELU); padded batches and other
    lengths give eager's outputs; the fused graph quantizes to int8 with QAttention and stays close."""
    path = onnx_runtime.export_onnx_fused(model, tmp_path / "fused.onnx")
    layers = model.config.num_hidden_layers
    assert onnx_runtime.fused_operators(path) == {"Attention": layers, "SkipLayerNormalization": 2 * layers,
                                                  "BiasGelu": layers}
    assert not list(tmp_path.glob("*.partial"))
    session = onnx_runtime.ort_session(path, threads=1)
    inputs = fixed_input(VOCAB.size, LatencyProtocol(batch_size=3, seq_len=20))
    inputs["attention_mask"][0, 12:] = 0
    inputs["attention_mask"][2, 5:] = 0
    with torch.inference_mode():
        reference = model(**inputs).last_hidden_state
    keep = inputs["attention_mask"].bool()  # padded positions' outputs are not defined the same way
    assert parity(reference[keep], torch.from_numpy(onnx_runtime.ort_run(session, inputs))[keep]).max_abs < 1e-4

    int8 = onnx_runtime.quantize_onnx_int8(path, tmp_path / "fused.int8.onnx", model.config)
    assert onnx_runtime.fused_operators(int8)["QAttention"] == layers  # attention's projections in int8 too
    out = torch.from_numpy(onnx_runtime.ort_run(onnx_runtime.ort_session(int8), inputs))
    assert parity(reference[keep], out[keep]).cosine > 0.99


def test_a_graph_that_declares_token_type_ids_gets_zeros(tmp_path):
    """A BERT exported by another tool takes token_type_ids too; bort feeds it one segment of zeros, which is
    what the PyTorch model assumes when none are given."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, type_vocab_size=2), add_pooling_layer=False).eval()
    with torch.no_grad():  # segment 1 differs from segment 0, so zeros are checked, not just any ids
        bert.embeddings.token_type_embeddings.weight[1].add_(1.0)

    class ThreeInputs(torch.nn.Module):
        def forward(self, input_ids, attention_mask, token_type_ids):
            return bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    ids = torch.randint(5, 100, (2, 12))
    mask = torch.ones_like(ids)
    path = tmp_path / "three.onnx"
    torch.onnx.export(ThreeInputs(), (ids, mask, torch.zeros_like(ids)), str(path), dynamo=True,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["out"],
                      external_data=False)
    got = onnx_runtime.ort_run(onnx_runtime.ort_session(path), {"input_ids": ids, "attention_mask": mask})
    with torch.no_grad():
        expected = bert(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()
    assert np.allclose(got, expected, atol=1e-4)


def test_every_path_takes_a_berts_segments(tmp_path):
    """A BERT's sentence pairs mark their second text as segment 1: its exported graphs take ``token_type_ids`` and
    give eager's output for them (segment 1's embedding made to differ, so one segment of zeros would not pass)."""
    from transformers import BertConfig, BertModel

    from bort.inference import paths

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, type_vocab_size=2), add_pooling_layer=False).eval()
    with torch.no_grad():
        bert.embeddings.token_type_embeddings.weight[1].add_(1.0)
    ids = torch.randint(5, 100, (3, 12))
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": types}
    with torch.no_grad():
        expected = bert(**inputs).last_hidden_state.numpy()
        one_segment = bert(input_ids=ids, attention_mask=inputs["attention_mask"]).last_hidden_state.numpy()
    assert not np.allclose(expected, one_segment, atol=0.5)
    assert onnx_runtime.input_names(bert) == ("input_ids", "attention_mask", "token_type_ids")
    # ONNX Runtime's int8 kernels without VNNI (AVX2) lose more than with it: about 5e-3 here against 3e-3, still a
    # hundredth of what dropping segment 1 costs.
    for name, tolerance in (("eager", 1e-4), ("onnx-fp32", 1e-4), ("onnx-fused", 1e-4), ("torch-int8", 3e-3),
                            ("onnx-fused-int8", 1.5e-2), ("onnx-fused-int8-sq", 1.5e-2)):
        if paths.missing_instructions(name):
            continue
        got = paths.as_numpy(paths.build_runner(name, bert, tmp_path)(inputs))
        assert np.allclose(got, expected, atol=tolerance), name


def test_a_loaded_export_without_segments_refuses_pairs_rather_than_drop_them(tmp_path):
    """An export whose graph takes no token_type_ids (one segment, or a BERT exported before pairs were served)
    refuses a pair's segment 1 in one line instead of silently scoring the pair as one segment."""
    from bort.inference.loader import ExportedModel

    ids = torch.randint(5, 100, (1, 8))
    types = torch.zeros_like(ids)
    model = ExportedModel(tmp_path, {"path": "onnx-fp32"}, run=lambda inputs: inputs["input_ids"].float(),
                          takes_segments=False)
    assert model(ids, torch.ones_like(ids), types).shape == (1, 8)  # zeros: one segment, as without them
    types[0, 4:] = 1
    with pytest.raises(BortError, match="takes no token_type_ids"):
        model(ids, torch.ones_like(ids), types)


def test_export_scores_a_berts_pair_task_with_its_segments(real_model_dir, shared_data, tmp_path):
    """`bort export --auto --task` on a pair task: the dev batches carry the pairs' segments to every path."""
    from transformers import AutoModelForSequenceClassification

    from bort.inference.auto_export import dev_batches
    from bort.inference.config import ExportConfig
    from bort.tokenizer import load_tokenizer

    model = AutoModelForSequenceClassification.from_pretrained(real_model_dir, num_labels=2).eval()
    model.save_pretrained(tmp_path / "cls")
    load_tokenizer(real_model_dir).save_pretrained(tmp_path / "cls")
    cfg = ExportConfig(model_dir=str(tmp_path / "cls"), auto=True, task="glue/MRPC",
                       data=str(shared_data / "glue" / "MRPC"), max_len=32, out=str(tmp_path / "out"))
    batches, score = dev_batches(cfg, model)
    assert all(batch["token_type_ids"].shape == batch["input_ids"].shape for batch in batches)
    assert all(bool(batch["token_type_ids"].any()) for batch in batches)  # every pair's second text is segment 1
    with torch.no_grad():
        outputs = np.concatenate([model(**batch).logits.numpy() for batch in batches])
    assert 0 <= score(outputs) <= 100
