"""Task-aware extraction (`bort extract --teacher FINETUNED --task T`): the student cut out of a fine-tuned
classifier, scored on the task's own inputs and loss, keeps the classifier; every exactness check of the plain
extraction holds for it too."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

from bort.architecture import Arch
from bort.architecture.build import numel
from bort.checkpoint import classifier_from_encoder
from bort.cli.main import main
from bort.extract.extractor import extract_model
from bort.extract.importance import measure_importance

BERT = BertConfig(vocab_size=300, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
                  max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=3)


def bert_classifier():
    """A random BERT classifier ⟨2,3,24,40⟩ with three classes, random LayerNorms and biases, and two labelled
    batches of pairs (token types 0 and 1)."""
    torch.manual_seed(0)
    model = BertForSequenceClassification(BERT).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 1:
                parameter.add_(0.1 * torch.randn(parameter.shape))
    batches = []
    for k in range(2):
        ids = torch.randint(5, 300, (4, 10))
        types = torch.zeros_like(ids)
        types[:, 5:] = 1
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": types})
    labelled = [(b["input_ids"], torch.tensor([0, 1, 2, 1])) for b in batches]
    return model, batches, labelled


@pytest.mark.parametrize("method", ["activation", "taylor"])
def test_the_classifiers_own_shape_reproduces_its_logits(method):
    teacher, batches, labelled = bert_classifier()
    importance = measure_importance(teacher, batches, method, labelled if method == "taylor" else None)
    student, selection = extract_model(teacher, importance, Arch(2, 3, 24, 40))
    assert selection.exact and type(student) is BertForSequenceClassification
    with torch.no_grad():
        assert (student(**batches[0]).logits - teacher(**batches[0]).logits).abs().max() <= 1e-5


def test_a_narrower_classifier_keeps_the_heads_columns_at_the_kept_channels():
    teacher, batches, labelled = bert_classifier()
    importance = measure_importance(teacher, batches, "taylor", labelled)
    student, selection = extract_model(teacher, importance, Arch(1, 2, 12, 20))
    channels = selection.channels
    assert torch.equal(student.classifier.weight, teacher.classifier.weight[:, channels])
    assert torch.equal(student.classifier.bias, teacher.classifier.bias)
    assert torch.equal(student.bert.pooler.dense.weight, teacher.bert.pooler.dense.weight[channels][:, channels])
    assert student.config.num_labels == 3 and numel(student) == sum(p.numel() for p in student.parameters())


def test_taylor_scores_follow_the_task_loss_not_the_inputs_alone():
    """The same inputs with other labels move the Taylor scores (the loss's gradient), never the activation ones."""
    teacher, batches, labelled = bert_classifier()
    flipped = [(ids, (labels + 1) % 3) for ids, labels in labelled]
    a, b = (measure_importance(teacher, batches, "taylor", pairs) for pairs in (labelled, flipped))
    assert not torch.allclose(a.neurons, b.neurons)
    c, d = (measure_importance(teacher, batches, "activation") for _ in range(2))
    assert torch.equal(c.neurons, d.neurons)


def test_bort_extract_from_a_fine_tuned_roberta_keeps_its_head_and_finetune_distils_it(prepared_inputs, tmp_path):
    out = tmp_path / "student"
    status = main(["extract", "--teacher", prepared_inputs["classifier"], "--task", "glue/RTE", "--data",
                   prepared_inputs["rte"], "--arch", "1,1,16,32", "--importance", "taylor", "--out", str(out),
                   "--seq-len", "32", "--batch-size", "4", "--calibration-batches", "2"])
    assert status == 0
    report = json.loads((out / "extraction.json").read_text())
    loaded = AutoModelForSequenceClassification.from_pretrained(out, local_files_only=True)
    teacher = AutoModelForSequenceClassification.from_pretrained(prepared_inputs["classifier"], local_files_only=True)
    assert report["parameters"] == numel(loaded) and report["task"] == "glue/RTE"
    assert loaded.config.id2label == teacher.config.id2label
    channels = report["selection"]["channels"]
    assert torch.equal(loaded.classifier.out_proj.weight, teacher.classifier.out_proj.weight[:, channels])
    # fine-tuning starts from the kept head (not a new one)
    rebuilt = classifier_from_encoder(out, 2, ("entailment", "not_entailment"))
    assert torch.equal(rebuilt.classifier.out_proj.weight, loaded.classifier.out_proj.weight)
    assert main(["finetune", "--model", str(out), "--teacher", prepared_inputs["classifier"], "--task", "glue/RTE",
                 "--data", prepared_inputs["rte"], "--out", str(tmp_path / "tuned"), "--epochs", "1",
                 "--max-train-examples", "16", "--max-len", "32"]) == 0


def test_a_teacher_with_the_tasks_classes_in_another_order_is_refused(prepared_inputs, tmp_path, capsys):
    """Its head would be kept as it is and then read in the task's order: refused in one line, not mislabelled."""
    import shutil

    teacher = tmp_path / "reversed"
    shutil.copytree(prepared_inputs["classifier"], teacher)
    config = json.loads((teacher / "config.json").read_text())
    config["id2label"] = {"0": "not_entailment", "1": "entailment"}
    config["label2id"] = {"not_entailment": 0, "entailment": 1}
    (teacher / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    assert main(["extract", "--teacher", str(teacher), "--task", "glue/RTE", "--data", prepared_inputs["rte"],
                 "--arch", "1,1,16,32", "--out", str(out), "--seq-len", "32", "--batch-size", "2",
                 "--calibration-batches", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "orders glue/RTE's classes otherwise" in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("args, fragment", [
    (["--teacher", "{mlm}", "--task", "glue/RTE", "--data", "{rte}"], "extracts from a classifier fine-tuned on it"),
    (["--teacher", "{classifier}", "--corpus", "{text}"], "give --task"),
    (["--teacher", "{classifier}", "--task", "superglue/CB", "--data", "{rte}"], "predicts 2 labels"),
    (["--teacher", "{classifier}", "--task", "glue/RTE"], "--data TASK_DIR is required"),
    (["--teacher", "{mlm}", "--corpus", "{text}", "--train", "{text}"], "apply with --task custom"),
])
def test_task_aware_extraction_refuses_what_does_not_fit_in_one_line(prepared_inputs, tmp_path, capsys, args,
                                                                      fragment):
    out = tmp_path / "out"
    line = ["extract", *[a.format(**prepared_inputs) for a in args], "--arch", "1,1,16,32", "--out", str(out),
            "--seq-len", "32", "--batch-size", "2", "--calibration-batches", "2"]
    assert main(line) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    assert not out.exists()


def test_dropping_only_a_classifiers_layer_equals_skipping_it():
    """The cut chosen by the task's Taylor scores, one of two layers kept and nothing else narrowed: its logits
    equal the teacher's run with the dropped layer skipped (pooler and classifier as they were)."""
    teacher, batches, labelled = bert_classifier()
    importance = measure_importance(teacher, batches, "taylor", labelled)
    student, selection = extract_model(teacher, importance, Arch(1, 3, 24, 40))
    assert len(selection.layers) == 1
    skipped = copy.deepcopy(teacher)
    skipped.bert.encoder.layer = torch.nn.ModuleList([teacher.bert.encoder.layer[i] for i in selection.layers])
    with torch.no_grad():
        assert (student(**batches[1]).logits - skipped(**batches[1]).logits).abs().max() <= 1e-5
        assert (student(**batches[1]).logits - teacher(**batches[1]).logits).abs().max() > 1e-3  # the layer mattered


def test_dropping_only_a_classifiers_neurons_equals_zeroing_them():
    """FFN neurons cut by the task's Taylor scores, every layer, head and channel kept: the logits equal the
    teacher's with the dropped neurons' output weights zeroed."""
    teacher, batches, labelled = bert_classifier()
    importance = measure_importance(teacher, batches, "taylor", labelled)
    student, selection = extract_model(teacher, importance, Arch(2, 3, 24, 16))
    zeroed = copy.deepcopy(teacher)
    with torch.no_grad():
        for index, layer in enumerate(zeroed.bert.encoder.layer):
            dropped = sorted(set(range(40)) - set(selection.neurons[index]))
            assert len(dropped) == 24
            layer.output.dense.weight[:, dropped] = 0
        assert (student(**batches[1]).logits - zeroed(**batches[1]).logits).abs().max() <= 1e-5
        states = [model.bert(**batches[1]).last_hidden_state for model in (student, zeroed, teacher)]
        assert (states[0] - states[1]).abs().max() <= 1e-5
        assert (states[0] - states[2]).abs().max() > 1e-3  # the neurons mattered
