"""A real pretrained BERT (all-MiniLM-L6-v2: ⟨6,12,384,1536⟩, uncased WordPiece, token types) through bort."""

from __future__ import annotations

import json

import pytest
import torch

from bort.cli.main import main


def test_arch_like_counts_the_real_model_exactly(real_model_dir, capsys):
    from transformers import AutoModel

    assert main(["arch", "6,12,384,1536", "--like", str(real_model_dir), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["vocab"] == [30522, 512, 2]
    model = AutoModel.from_pretrained(real_model_dir)  # BertModel: embeddings, encoder and pooler
    assert row["params_embeddings"] + row["params_encoder"] + row["params_pooler"] == \
        sum(p.numel() for p in model.parameters())


def test_wordpiece_pairs_carry_token_types_into_the_model(real_model_dir):
    from bort.tasks.encode import collate, encode
    from bort.tasks.example import Example
    from bort.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(real_model_dir)
    examples = [Example(uid=0, text_a="The Cat SAT.", text_b="It was happy.", label=0)]
    batch = collate(encode(tokenizer, examples, 32), [0], tokenizer.pad_token_id)
    assert tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())[:5] == ["[CLS]", "the", "cat", "sat", "."]
    sep = batch["input_ids"][0].tolist().index(tokenizer.sep_token_id)
    assert batch["token_type_ids"][0].tolist() == [0] * (sep + 1) + [1] * (len(batch["input_ids"][0]) - sep - 1)


def test_finetune_and_evaluate_the_real_model_on_sst2(real_model_dir, shared_data, tmp_path, capsys):
    """400 SST-2 sentences, two epochs: a real encoder is already far above the majority class (a model from random
    weights stays near the majority's 0.51)."""
    out = tmp_path / "sst2"
    assert main(["finetune", "--model", str(real_model_dir), "--task", "glue/SST-2", "--data",
                 str(shared_data / "glue/SST-2"), "--out", str(out), "--epochs", "2", "--max-train-examples", "400",
                 "--max-len", "40", "--batch-size", "16", "--lr", "2e-4"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dev"]["accuracy"] > max(0.70, metrics["majority_baseline"]["accuracy"] + 0.15)
    assert main(["evaluate", "--model", str(out), "--task", "glue/SST-2", "--data", str(shared_data / "glue/SST-2"),
                 "--out", str(tmp_path / "eval.json")]) == 0
    assert json.loads((tmp_path / "eval.json").read_text())["metrics"]["accuracy"] == \
        pytest.approx(metrics["dev"]["accuracy"])


def test_export_and_bench_the_real_model(real_model_dir, tmp_path, capsys):
    onnx_file = tmp_path / "minilm.onnx"
    assert main(["export", str(real_model_dir), "--onnx", "--out", str(onnx_file)]) == 0
    assert main(["bench", "--model", str(real_model_dir), "--models", "1,2,32,64", "--lengths", "32", "--rounds", "2",
                 "--max-rounds", "2", "--warmup-runs", "0", "--fast-paths", "onnx-fused", "--onnx", str(onnx_file),
                 "--out", str(tmp_path / "bench")]) == 0
    results = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert results["subject"] == "all-MiniLM-L6-v2"
    assert results["rows"]["all-MiniLM-L6-v2"]["arch"] == [6, 12, 384, 1536]
    rows = results["cells"][0]["rows"]
    assert rows[str(onnx_file)]["cosine"] > 0.9999
    # the fused graph of a BERT with token types (zeros here) is the model itself, in fp32
    assert rows["all-MiniLM-L6-v2 onnx-fused"]["cosine"] > 0.9999


def test_continued_mlm_from_the_real_model_starts_from_its_weights(real_model_dir, shared_data, tmp_path):
    """--init adds a masked-LM head to the BertModel checkpoint; --freeze-encoder trains that head alone."""
    from safetensors.torch import load_file

    text = tmp_path / "novel.txt"
    text.write_bytes((shared_data / "text/gutenberg/1342-0.txt").read_bytes()[:120_000])
    out = tmp_path / "head"
    assert main(["pretrain", "--mode", "mlm", "--init", str(real_model_dir), "--freeze-encoder", "--corpus", str(text),
                 "--out", str(out), "--seq-len", "32", "--batch-size", "4", "--max-steps", "3", "--lr", "1e-3",
                 "--val-batches", "2"]) == 0
    before, after = load_file(str(real_model_dir / "model.safetensors")), load_file(str(out / "model.safetensors"))
    encoder = [k for k in before if k.startswith(("embeddings.", "encoder.")) and "bert." + k in after]
    assert len(encoder) > 90 and all(torch.equal(before[k], after["bert." + k]) for k in encoder)
    head = [k for k in after if k.startswith("cls.") and not k.endswith("decoder.weight")]
    assert head and json.loads((out / "config.json").read_text())["architectures"] == ["BertForMaskedLM"]


def test_int8_fast_paths_keep_parity_on_trained_weights_and_real_text(real_model_dir, shared_data, tmp_path):
    """Per-channel weights and fp32 feed-forward outputs: on trained weights, per-tensor int8 of every
    Linear falls to cosine 0.917 (PyTorch) and 0.949 (ONNX Runtime) on these sentences; bort's keeps
    0.978 and 0.994."""
    from bort.checkpoint import load_encoder
    from bort.tasks.encode import collate, encode
    from bort.inference import onnx_runtime, quantize
    from bort.inference.parity import parity
    from bort.tasks import get_task
    from bort.tokenizer import load_tokenizer

    model, tokenizer = load_encoder(real_model_dir), load_tokenizer(real_model_dir)
    sentences = get_task("glue/SST-2").read(shared_data / "glue/SST-2", "dev")[:64]
    batch = collate(encode(tokenizer, sentences, 64), list(range(64)), tokenizer.pad_token_id)
    batch.pop("token_type_ids")  # one sentence each: all zeros, the exported graph's default
    mask = batch["attention_mask"].bool()
    with torch.inference_mode():
        reference = model(**batch)[0][mask]
        torch_int8 = quantize.dynamic_int8(model)(**batch)[0][mask]
    onnx_file = onnx_runtime.export_onnx(model, tmp_path / "m.onnx")
    int8_file = onnx_runtime.quantize_onnx_int8(onnx_file, tmp_path / "m.int8.onnx", model.config)
    onnx_int8 = torch.as_tensor(onnx_runtime.ort_run(onnx_runtime.ort_session(int8_file), batch))[mask]
    assert parity(reference, torch_int8).cosine > 0.97
    assert parity(reference, onnx_int8).cosine > 0.99
