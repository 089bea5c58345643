"""The fastest faithful CPU path: the choice logic on planted figures, SmoothQuant's invariance, the
per-precision peaks, and `bort export --auto / --path` with the loader of what it writes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from bort.architecture import Arch
from bort.architecture.build import build_roberta
from bort.cli.main import main
from bort.inference.choice import Candidate, choose
from bort.inference.parity import parity
from bort.measure.latency import LatencyProtocol, fixed_input

ROUNDS = 12


def _times(ms: float, spread: float = 0.01, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(ms * (1 + spread * rng.standard_normal(ROUNDS)))


def test_a_faster_path_that_fails_parity_is_never_chosen():
    candidates = [Candidate("eager", _times(20), cosine=1.0),
                  Candidate("bf16", _times(15, seed=1), cosine=0.9995),
                  Candidate("onnx-fused-int8", _times(5, seed=2), cosine=0.9985)]  # 3× faster than bf16, unfaithful
    assert choose(candidates, min_cosine=0.999).name == "bf16"
    assert choose(candidates, min_cosine=0.998).name == "onnx-fused-int8"


def test_a_path_that_loses_more_than_half_a_point_on_the_task_is_never_chosen():
    candidates = [Candidate("eager", _times(20), cosine=1.0, points_lost=0.0),
                  Candidate("torch-int8", _times(10, seed=1), cosine=0.9999, points_lost=0.6),
                  Candidate("onnx-int8", _times(12, seed=2), cosine=0.9999, points_lost=0.4)]
    assert choose(candidates, min_cosine=0.999).name == "onnx-int8"


def test_ties_go_to_the_simpler_path_and_a_clear_win_to_the_faster():
    # Simplest first: bf16 before onnx-fused-int8. Times within each other's noise: the simpler one.
    tied = [Candidate("eager", _times(20), cosine=1.0),
            Candidate("bf16", _times(10.1, spread=0.05, seed=1), cosine=0.9999),
            Candidate("onnx-fused-int8", _times(10.0, spread=0.05, seed=2), cosine=0.9999)]
    choice = choose(tied, min_cosine=0.999)
    assert (choice.name, choice.fastest) == ("bf16", "onnx-fused-int8") and "ties" in choice.reason
    clear = [tied[0], Candidate("bf16", _times(10, seed=1), cosine=0.9999),
             Candidate("onnx-fused-int8", _times(8, seed=2), cosine=0.9999)]
    assert choose(clear, min_cosine=0.999).name == "onnx-fused-int8"


def test_a_skipped_path_is_never_chosen_and_eager_is_the_fallback():
    candidates = [Candidate("eager", _times(20), cosine=1.0),
                  Candidate("bf16", [], skipped="this CPU lacks native bf16")]
    assert choose(candidates, min_cosine=0.999).name == "eager"


def _bert(seed=0):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(seed)
    return BertModel(config).eval()


def test_smoothquant_keeps_the_function_and_flattens_the_outlier_channels():
    from bort.inference.smooth import SmoothedLinear, smooth_ffn_inputs

    model = _bert()
    # Plant an outlier channel in every LayerNorm that feeds a feed-forward input, as trained BERTs have.
    for layer in model.encoder.layer:
        with torch.no_grad():
            layer.attention.output.LayerNorm.weight[5] = 40.0
    batch = fixed_input(300, LatencyProtocol(batch_size=2, seq_len=16))
    smoothed = smooth_ffn_inputs(model, [batch])
    with torch.no_grad():
        before, after = model(**batch).last_hidden_state, smoothed(**batch).last_hidden_state
    assert torch.allclose(before, after, atol=1e-4)
    seen = {}
    linear = smoothed.encoder.layer[0].intermediate.dense
    assert isinstance(linear, SmoothedLinear)
    hook = linear.linear.register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    with torch.no_grad():
        smoothed(**batch)
    hook.remove()
    smoothed_max = seen["x"].abs().reshape(-1, 32).amax(0)
    original = {}
    hook = model.encoder.layer[0].intermediate.dense.register_forward_pre_hook(
        lambda m, args: original.update(x=args[0]))
    with torch.no_grad():
        model(**batch)
    hook.remove()
    original_max = original["x"].abs().reshape(-1, 32).amax(0)
    # the planted channel dominated the input; after smoothing, it no longer stands out
    assert original_max.argmax() == 5 and original_max.max() / original_max.median() > 10
    assert smoothed_max.max() / smoothed_max.median() < original_max.max() / original_max.median() / 3


def test_smoothing_scales_follow_the_smoothquant_formula():
    from bort.inference.smooth import smoothing_scales

    weight = torch.tensor([[1.0, -4.0], [0.5, 2.0]])  # (out, in): column maxima 1 and 4
    activation_max = torch.tensor([9.0, 16.0])
    assert torch.allclose(smoothing_scales(activation_max, weight, alpha=0.5), torch.tensor([3.0 / 1.0, 4.0 / 2.0]))


def test_peaks_are_measured_per_precision_at_the_model_shapes():
    from bort.inference.peaks import gemm_shapes, measure_peaks, precision_of

    assert gemm_shapes(8, 16, 32) == [(8, 16, 16), (8, 16, 32), (8, 32, 16)]
    from bort.measure.device import cpu_has_native_bf16

    peaks = measure_peaks(tokens=16, hidden=32, intermediate=64, threads=1, repeats=3)
    assert set(peaks) == {"fp32", "int8"} | ({"bf16"} if cpu_has_native_bf16() else set())
    for precision, peak in peaks.items():
        assert peak.precision == precision and peak.gops > 0 and peak.shape in gemm_shapes(16, 32, 64)
        assert peak.kernel and peak.isa
    assert [precision_of(p) for p in ("onnx-fused-int8-sq", "compile-bf16", "onnx-fused", "eager")] == \
        ["int8", "bf16", "fp32", "fp32"]


def test_missing_instructions_name_what_the_cpu_lacks():
    from bort.inference.paths import missing_instructions

    assert "bf16" in missing_instructions("bf16", frozenset({"avx2", "avx512f"}))
    assert missing_instructions("bf16", frozenset({"avx512_bf16"})) is None
    assert missing_instructions("onnx-fused-int8", frozenset({"sse2", "avx"})) == "AVX2"
    # an ARM CPU (or flags the OS does not list): every path is tried, and timing and parity decide
    assert missing_instructions("onnx-fused-int8", frozenset({"fp", "asimd", "bf16"})) is None
    assert missing_instructions("bf16", frozenset()) is None
    assert missing_instructions("eager", frozenset()) is None


@pytest.fixture(scope="module")
def sst2_classifier(tmp_path_factory):
    """A tiny RoBERTa classifier (2 labels) with the real tokenizer."""
    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.tokenizer import load_tokenizer

    root = tmp_path_factory.mktemp("sst2")
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=3), load_tokenizer(), root / "mlm")
    save_model_dir(classifier_from_encoder(root / "mlm", 2, ("negative", "positive")), load_tokenizer(), root / "cls")
    return root / "cls"


def test_export_auto_writes_its_choice_with_a_record_and_load_runs_it(sst2_classifier, shared_data, tmp_path, capsys):
    import bort.inference
    from sklearn.metrics import accuracy_score
    from transformers import AutoModelForSequenceClassification

    from bort.tasks import get_task
    from bort.tokenizer import load_tokenizer

    out = tmp_path / "served"
    sst2 = shared_data / "glue" / "SST-2"
    assert main(["export", str(sst2_classifier), "--auto", "--candidates", "onnx-fused-int8-sq,onnx-fused,bf16",
                 "--task", "glue/SST-2", "--data", str(sst2), "--max-len", "32", "--seq-len", "32", "--rounds", "2",
                 "--max-rounds", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "export.json").read_text())
    assert list(record["candidates"]) == ["eager", "bf16", "onnx-fused", "onnx-fused-int8-sq"]  # simplest first
    chosen = record["candidates"][record["path"]]
    assert "refused" not in chosen and chosen["cosine"] >= record["bar"]["min_cosine"] == 0.999
    assert chosen["points_lost"] <= 0.5 and f"chose {record['path']}" in printed
    assert record["cpu"]["flags"] and record["device"]["torch"] and record["timed"]["seq_len"] == 32
    assert record["timed"]["threads"] == torch.get_num_threads()  # one thread count for torch and ONNX Runtime
    for name, entry in record["candidates"].items():
        assert "skipped" in entry or entry["ms"]["low"] <= entry["ms"]["median"] <= entry["ms"]["high"]

    # eager's task score, recomputed here with Hugging Face's own classes and scikit-learn
    model = AutoModelForSequenceClassification.from_pretrained(sst2_classifier).eval()
    tokenizer = load_tokenizer(sst2_classifier)
    examples = get_task("glue/SST-2").read(sst2, "dev")
    predictions = []
    with torch.no_grad():
        for start in range(0, len(examples), 64):
            chunk = examples[start:start + 64]
            encoded = tokenizer([e.text_a for e in chunk], truncation=True, max_length=32, padding=True,
                                return_tensors="pt")
            predictions += model(input_ids=encoded["input_ids"],
                                 attention_mask=encoded["attention_mask"]).logits.argmax(-1).tolist()
    expected = 100 * accuracy_score([e.label for e in examples], predictions)
    assert record["candidates"]["eager"]["task_score"] == pytest.approx(expected, abs=1e-6)

    # the loader runs the chosen path, faithful to eager on a fresh input
    served = bort.inference.load(out)
    assert served.path == record["path"] and served.tokenizer is not None
    inputs = fixed_input(model.config.vocab_size, LatencyProtocol(batch_size=3, seq_len=20, seed=7))
    with torch.no_grad():
        reference = model(**inputs).logits
    assert parity(reference, served(inputs["input_ids"], inputs["attention_mask"])).cosine > 0.999

    # text end to end: the export's own tokenizer turns sentences into the served path's input, as a user serves it
    sentences = [e.text_a for e in examples[:5]]
    encoded = served.tokenizer(sentences, padding=True, return_tensors="np")
    with torch.no_grad():
        reference = model(**tokenizer(sentences, padding=True, return_tensors="pt")).logits
    assert parity(reference, served(encoded["input_ids"], encoded["attention_mask"])).cosine > 0.999


def test_export_path_refuses_a_cpu_without_its_instructions(prepared_inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bort.inference.paths.cpu_flags", lambda: frozenset({"avx2", "fma"}))
    out = tmp_path / "served"
    assert main(["export", prepared_inputs["encoder"], "--path", "bf16", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "native bf16" in error and "lacks" in error
    assert not out.exists()


def test_export_path_that_fails_the_bar_writes_nothing(prepared_inputs, tmp_path, capsys):
    out = tmp_path / "deep" / "served"
    assert main(["export", prepared_inputs["encoder"], "--path", "onnx-int8", "--min-cosine", "0.999999999",
                 "--seq-len", "16", "--rounds", "1", "--max-rounds", "1", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "fails the bar" in error and "cosine" in error and "nothing written" in error
    assert not (tmp_path / "deep").exists()  # not the output, not its staging folder, not the folder made for it


def test_export_rerun_keeps_refuses_a_change_and_restarts_on_request(prepared_inputs, tmp_path, capsys):
    out = tmp_path / "served"
    line = ["export", prepared_inputs["encoder"], "--path", "eager", "--seq-len", "16", "--rounds", "1",
            "--max-rounds", "1", "--out", str(out)]
    assert main(line) == 0
    record = (out / "export.json").read_text()
    capsys.readouterr()
    assert main(line) == 0  # the same command: the export is kept, nothing rewritten
    assert f"kept {out}" in capsys.readouterr().out and (out / "export.json").read_text() == record
    assert main(line + ["--seq-len", "12"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "seq_len changed" in err and "export.json" in err and "--restart" in err
    assert main(line + ["--seq-len", "12", "--restart"]) == 0  # exported again, with the new settings
    assert json.loads((out / "export.json").read_text())["timed"]["seq_len"] == 12
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".served")]  # no staging folder left
    assert main(["export", prepared_inputs["encoder"], "--onnx", "--restart", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "--restart goes with --auto and --path" in capsys.readouterr().err


def test_load_refuses_a_directory_it_did_not_write(tmp_path):
    from bort.errors import BortError
    from bort.inference import load

    with pytest.raises(BortError, match="no export.json"):
        load(tmp_path)
    (tmp_path / "export.json").write_text(json.dumps({"path": "turbo"}))
    with pytest.raises(BortError, match="field 'path'"):
        load(tmp_path)


def test_a_path_that_fails_on_this_model_is_recorded_and_passed_over(prepared_inputs, tmp_path, capsys, monkeypatch):
    from bort.inference import paths

    real = paths.build_runner

    def failing_compiler(name, model, folder, threads=None):
        if name == "eager":
            return real(name, model, folder, threads)

        def run(inputs):  # torch.compile fails on its first call, not when it is set up
            raise RuntimeError("InductorError: no working C++ compiler found\nmore detail")
        return run

    monkeypatch.setattr(paths, "build_runner", failing_compiler)
    out = tmp_path / "served"
    assert main(["export", prepared_inputs["encoder"], "--auto", "--candidates", "compile-fp32", "--seq-len", "16",
                 "--rounds", "1", "--max-rounds", "1", "--out", str(out)]) == 0
    record = json.loads((out / "export.json").read_text())
    assert record["path"] == "eager"
    assert record["candidates"]["compile-fp32"]["skipped"] == \
        "failed on the check batches: InductorError: no working C++ compiler found"
    assert (out / "model.safetensors").is_file()


def test_a_nan_cosine_or_task_score_never_passes_the_bar():
    nan = float("nan")
    candidates = [Candidate("eager", _times(20), cosine=1.0, points_lost=0.0),
                  Candidate("bf16", _times(5, seed=1), cosine=nan, points_lost=0.0),  # outputs with nan or inf
                  Candidate("torch-int8", _times(6, seed=2), cosine=0.9999, points_lost=nan)]  # an undefined score
    assert choose(candidates, min_cosine=0.999).name == "eager"


def test_export_path_writes_a_faithful_path_even_when_it_is_not_faster(prepared_inputs, tmp_path, capsys):
    import bort.inference

    out = tmp_path / "served"
    assert main(["export", prepared_inputs["encoder"], "--path", "onnx-fp32", "--seq-len", "16", "--rounds", "1",
                 "--max-rounds", "1", "--out", str(out)]) == 0
    record = json.loads((out / "export.json").read_text())
    assert record["path"] == "onnx-fp32" and record["mode"] == "path" and (out / "model.onnx").is_file()
    assert list(record["candidates"]) == ["eager", "onnx-fp32"]
    served = bort.inference.load(out)  # the loader's ONNX branch
    inputs = fixed_input(1000, LatencyProtocol(batch_size=2, seq_len=12, seed=5))
    from transformers import AutoModel

    with torch.no_grad():
        reference = AutoModel.from_pretrained(prepared_inputs["encoder"]).eval()(**inputs).last_hidden_state
    assert parity(reference, served(inputs["input_ids"], inputs["attention_mask"])).cosine > 0.99999


def test_an_export_of_a_model_fine_tuned_again_is_not_kept(prepared_inputs, tmp_path, capsys):
    """Same settings, same MODEL_DIR, other weights (the model was trained again): exported again, not kept."""
    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(prepared_inputs["encoder"], model)
    line = ["export", str(model), "--path", "eager", "--seq-len", "16", "--rounds", "1", "--max-rounds", "1", "--out",
            str(tmp_path / "served")]
    assert main(line) == 0
    weights = load_file(model / "model.safetensors")
    save_file({k: v + 1 if v.is_floating_point() else v for k, v in weights.items()}, model / "model.safetensors")
    capsys.readouterr()
    assert main(line) == 2
    assert "holds an export of other weights" in capsys.readouterr().err
    assert main(line + ["--restart"]) == 0
