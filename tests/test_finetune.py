"""Fine-tuning and evaluation with a tiny model, end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune


@pytest.fixture(scope="module")
def tiny_classifier_run(tmp_path_factory, shared_data):
    from bort.architecture import Arch
    from bort.architecture.build import build_roberta
    from bort.tokenizer import load_tokenizer

    root = tmp_path_factory.mktemp("ft")
    encoder = root / "encoder"
    build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=0).save_pretrained(encoder)
    load_tokenizer().save_pretrained(encoder)
    cfg = FinetuneConfig(model=str(encoder), task="glue/RTE", data=str(shared_data / "glue/RTE"), out=str(root / "run"),
                         epochs=2, batch_size=16, lr=1e-3, max_len=64, max_train_examples=128, head_init=0.5, seed=0)
    return cfg, finetune(cfg, show_progress=False)


def test_finetune_run_outputs(tiny_classifier_run):
    from transformers import AutoModelForSequenceClassification

    cfg, result = tiny_classifier_run
    out = Path(cfg.out)
    assert result["train_examples"] == 128 and result["dev_examples"] == 277
    assert 1 <= result["best_epoch"] <= 2 and len(result["history"]) >= 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dev"]["accuracy"] == max(h["accuracy"] for h in metrics["history"])
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 2 and model.config.id2label[1] == "not_entailment"
    predictions = [json.loads(l) for l in (out / "dev_predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 277
    assert np.mean([p["label"] == p["prediction"] for p in predictions]) == pytest.approx(metrics["dev"]["accuracy"])


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_evaluate_cli_dev_and_test(tiny_classifier_run, shared_data, tmp_path):
    cfg, result = tiny_classifier_run
    dev = run_cli("evaluate", "--model", cfg.out, "--task", "glue/RTE", "--data", str(shared_data / "glue/RTE"),
                  "--split", "dev", "--out", str(tmp_path / "m.json"))
    assert dev.returncode == 0, dev.stderr
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["metrics"]["accuracy"] == pytest.approx(result["dev"]["accuracy"])
    test = run_cli("evaluate", "--model", cfg.out, "--task", "glue/RTE", "--data", str(shared_data / "glue/RTE"),
                   "--split", "test", "--submission", str(tmp_path / "sub"))
    assert test.returncode == 0, test.stderr
    assert len((tmp_path / "sub" / "RTE.tsv").read_text().splitlines()) == 3001


def test_evaluate_all_writes_the_glue_set_we_hold(tiny_classifier_run, shared_data, tmp_path):
    """RTE's model stands in for every GLUE task with two labels (its class names made generic, as they would
    not match the other tasks'); the others are reported skipped."""
    import shutil

    cfg, _ = tiny_classifier_run
    runs = tmp_path / "runs"
    for name in ("RTE", "QNLI", "WNLI", "CoLA", "SST-2", "MRPC"):
        shutil.copytree(cfg.out, runs / name)
        config = json.loads((runs / name / "config.json").read_text())
        if name != "RTE":
            config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
            config["label2id"] = {"LABEL_0": 0, "LABEL_1": 1}
        (runs / name / "config.json").write_text(json.dumps(config))
    result = run_cli("evaluate", "--all", "glue", "--model", str(runs), "--data", str(shared_data / "glue"),
                     "--split", "test", "--submission", str(tmp_path / "sub"))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "sub").iterdir())
    assert written == ["CoLA.tsv", "MRPC.tsv", "QNLI.tsv", "RTE.tsv", "SST-2.tsv", "WNLI.tsv"]
    assert "skipped" in result.stdout  # STS-B, MNLI, QQP, AX have no model here


@pytest.mark.parametrize("args, message", [
    (["--task", "glue/NOPE"], "unknown task"),
    (["--task", "glue/STS-B"], "predicts 2 labels; glue/STS-B needs 1"),
])
def test_evaluate_errors(args, message, tiny_classifier_run, shared_data):
    cfg, _ = tiny_classifier_run
    result = run_cli("evaluate", "--model", cfg.out, "--data", str(shared_data / "glue/STS-B"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_evaluate_refuses_a_model_without_a_classifier(tiny_roberta_dir, shared_data):
    result = run_cli("evaluate", "--model", str(tiny_roberta_dir), "--task", "glue/RTE", "--data",
                     str(shared_data / "glue/RTE"))
    assert result.returncode == 2 and "has no classification head" in result.stderr


def test_model_outputs_follow_the_examples_order():
    """Batched, length-sorted outputs equal a per-example forward pass, row for row."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from bort.architecture import Arch
    from bort.architecture.hf_config import roberta_config
    from bort.tasks.encode import model_outputs
    from bort.tasks.example import Example
    from bort.tokenizer import load_tokenizer

    tokenizer = load_tokenizer()
    torch.manual_seed(0)
    # large initial weights, so that every example's logits differ clearly from the others'
    config = roberta_config(Arch(1, 2, 32, 64), num_labels=3, initializer_range=0.5)
    model = AutoModelForSequenceClassification.from_config(config).eval()
    texts = ["a long sentence with many words in it, longer than the rest by far", "short", "medium length one",
             "x", "another fairly long sentence for the batch", "two words"]
    examples = [Example(uid=k, text_a=t, text_b="and a second segment" + " more" * k) for k, t in enumerate(texts)]
    outputs = model_outputs(model, tokenizer, examples, max_len=64, batch_size=4)
    for k, ex in enumerate(examples):
        with torch.no_grad():
            alone = model(**tokenizer(ex.text_a, ex.text_b, return_tensors="pt")).logits[0].numpy()
        assert np.allclose(outputs[k], alone, atol=1e-4), k
        assert all(np.abs(outputs[j] - alone).max() > 1e-2 for j in range(len(examples)) if j != k)


def test_evaluate_maps_the_models_label_names_onto_the_tasks(tiny_classifier_run, shared_data, tmp_path):
    """A classifier whose id2label orders the classes otherwise (as roberta-large-mnli does) scores the same
    once its columns are mapped by name; names that match none of the task's are refused."""
    import torch

    from bort.checkpoint import load_classifier, save_model_dir
    from bort.errors import BortError
    from bort.finetune.evaluate import evaluate
    from bort.tasks import get_task
    from bort.tokenizer import load_tokenizer

    cfg, _ = tiny_classifier_run
    task = get_task("glue/RTE")
    original = evaluate(cfg.out, task, shared_data / "glue/RTE")["metrics"]
    model = load_classifier(cfg.out)
    with torch.no_grad():  # the same classifier with its two output rows swapped, and named accordingly
        model.classifier.out_proj.weight.copy_(model.classifier.out_proj.weight.flip(0))
        model.classifier.out_proj.bias.copy_(model.classifier.out_proj.bias.flip(0))
    model.config.id2label = {0: "NOT_ENTAILMENT", 1: "ENTAILMENT"}
    model.config.label2id = {"NOT_ENTAILMENT": 0, "ENTAILMENT": 1}
    swapped = save_model_dir(model, load_tokenizer(cfg.out), tmp_path / "swapped")
    assert evaluate(swapped, task, shared_data / "glue/RTE")["metrics"] == original

    model.config.id2label = {0: "positive", 1: "negative"}
    foreign = save_model_dir(model, load_tokenizer(cfg.out), tmp_path / "foreign")
    with pytest.raises(BortError, match=r"labels \['positive', 'negative'\] .* do not match glue/RTE"):
        evaluate(foreign, task, shared_data / "glue/RTE")


def test_label_names_on_index_labelled_tasks_keep_the_index_order():
    """SST-2's labels are "0"/"1": a sentiment model naming its classes NEGATIVE/POSITIVE keeps its column
    order (no name can match a bare index); on a named task the same names are refused."""
    from types import SimpleNamespace

    from bort.errors import BortError
    from bort.finetune.evaluate import label_order
    from bort.tasks import get_task

    config = SimpleNamespace(num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"})
    assert label_order(config, get_task("glue/SST-2")) is None
    with pytest.raises(BortError, match="do not match glue/RTE"):
        label_order(config, get_task("glue/RTE"))


def test_unmatched_label_names_are_refused_before_inference(tiny_classifier_run, shared_data, tmp_path, monkeypatch):
    """The label check runs before the model reads the split: a user waits for nothing."""
    from bort.checkpoint import load_classifier, save_model_dir
    from bort.errors import BortError
    from bort.finetune import evaluate as evaluate_module
    from bort.tasks import get_task
    from bort.tokenizer import load_tokenizer

    cfg, _ = tiny_classifier_run
    model = load_classifier(cfg.out)
    model.config.id2label = {0: "positive", 1: "negative"}
    foreign = save_model_dir(model, load_tokenizer(cfg.out), tmp_path / "foreign")
    monkeypatch.setattr(evaluate_module, "model_outputs", lambda *a, **k: pytest.fail("inference ran first"))
    with pytest.raises(BortError, match="do not match"):
        evaluate_module.evaluate(foreign, get_task("glue/RTE"), shared_data / "glue/RTE")


@pytest.mark.parametrize("family", ["roberta", "bert"])
def test_linear_head_is_one_learned_layer_on_the_first_token(family, shared_data, tmp_path):
    """--head linear: the dense layer before the classifier is the identity, frozen through training, and the
    saved model (a stock class) loads back with from_pretrained to the same function: logits = W·tanh(h_CLS) + b."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from bort.architecture import Arch
    from bort.architecture.build import build_roberta
    from bort.tokenizer import load_tokenizer

    encoder = tmp_path / "encoder"
    model = build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=0)
    if family == "bert":
        from transformers import BertConfig, BertForMaskedLM

        model = BertForMaskedLM(BertConfig(vocab_size=model.config.vocab_size, hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=64,
                                           max_position_embeddings=model.config.max_position_embeddings,
                                           pad_token_id=model.config.pad_token_id))
    model.save_pretrained(encoder)
    load_tokenizer().save_pretrained(encoder)
    cfg = FinetuneConfig(model=str(encoder), task="glue/RTE", data=str(shared_data / "glue/RTE"),
                         out=str(tmp_path / "run"), epochs=1, batch_size=16, lr=1e-3, max_len=32,
                         max_train_examples=64, head="linear", head_init=0.5, seed=0)
    finetune(cfg, show_progress=False)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "run").eval()
    dense = loaded.bert.pooler.dense if family == "bert" else loaded.classifier.dense
    assert torch.equal(dense.weight, torch.eye(32)) and torch.equal(dense.bias, torch.zeros(32))
    last = loaded.classifier if family == "bert" else loaded.classifier.out_proj
    assert not torch.allclose(last.weight, torch.zeros_like(last.weight))
    ids = torch.tensor([[0, 100, 200, 300, 2]])
    with torch.no_grad():
        first_token = loaded.base_model(input_ids=ids).last_hidden_state[:, 0]
        by_hand = torch.tanh(first_token) @ last.weight.T + last.bias
        assert torch.allclose(loaded(input_ids=ids).logits, by_hand, atol=1e-5)
