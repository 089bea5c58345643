"""Predictions, submissions and fine-tuning with a tiny model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.tasks import get_task
from bort.tasks.predict import majority_baseline, score, submission_records
from bort.tasks.submission import write_submission

FIXTURES = Path(__file__).parent / "fixtures"


def _outputs(preferred: list[int], n_labels: int = 2) -> np.ndarray:
    out = np.zeros((len(preferred), n_labels))
    out[np.arange(len(preferred)), preferred] = 1.0
    return out


def test_choice_tasks_pick_the_best_option_per_question():
    task = get_task("superglue/COPA")
    dev = task.read(FIXTURES / "superglue/COPA", "dev")  # gold options: 0, 0, 1
    outputs = np.array([[0, 2], [0, 1], [0, 1], [0, 3], [0, 1], [0, 2]], dtype=float)  # picks 0, 1, 1
    assert score(task, dev, outputs)["accuracy"] == pytest.approx(2 / 3)
    records = submission_records(task, dev, outputs)
    assert records == [{"idx": 0, "label": 0}, {"idx": 1, "label": 1}, {"idx": 2, "label": 1}]


def test_record_scores_and_submission():
    task = get_task("superglue/ReCoRD")
    dev = task.read(FIXTURES / "superglue/ReCoRD", "dev")
    margin = [3 if ex.meta["entity"] in ("Rowling", "Harry Potter") else 0 for ex in dev]
    outputs = np.stack([np.zeros(len(dev)), np.array(margin, float)], axis=1)
    # query 0 picks "Harry Potter" (first with the top margin): F1 0; query 1 picks "Rowling" vs London: 0
    assert score(task, dev, outputs) == {"f1": 0.0, "em": 0.0}
    margin = [3 if ex.meta["entity"] in ("Rowling",) else 0 for ex in dev]
    outputs = np.stack([np.zeros(len(dev)), np.array(margin, float)], axis=1)
    assert score(task, dev, outputs)["em"] == pytest.approx(0.5)
    assert submission_records(task, dev, outputs)[0] == {"idx": 0, "label": "Rowling"}


def test_multirc_submission_is_nested(shared_data):
    task = get_task("superglue/MultiRC")
    test = task.read(shared_data / "superglue/MultiRC", "test")
    records = submission_records(task, test, _outputs([1] * len(test)))
    assert len(records) == 166  # passages
    first = records[0]
    assert set(first) == {"idx", "passage"} and set(first["passage"]["questions"][0]) == {"idx", "answers"}
    assert sum(len(q["answers"]) for r in records for q in r["passage"]["questions"]) == 9693


@pytest.mark.parametrize("name, folder, first", [
    ("glue/STS-B", "glue/STS-B", "0\t2.500"), ("glue/RTE", "glue/RTE", "0\tnot_entailment"), ("glue/CoLA", "glue/CoLA", "0\t1"),
    ("glue/AX", "glue/diagnostic", "0\tneutral"),
])
def test_glue_submission_files(name, folder, first, shared_data, tmp_path):
    task = get_task(name)
    examples = task.read(shared_data / folder, "test")
    outputs = np.full((len(examples), 1), 2.5) if task.kind == "regression" else _outputs([len(task.labels) - 1] * len(examples), task.num_labels)
    path = write_submission(task, submission_records(task, examples, outputs), tmp_path)
    lines = path.read_text().splitlines()
    assert path.name == task.submission and lines[0] == "index\tprediction" and lines[1] == first
    assert len(lines) == len(examples) + 1


def test_superglue_label_spellings(shared_data, tmp_path):
    wsc = get_task("superglue/WSC")
    examples = wsc.read(shared_data / "superglue/WSC", "test")
    path = write_submission(wsc, submission_records(wsc, examples, _outputs([1] * len(examples))), tmp_path)
    assert json.loads(path.read_text().splitlines()[0]) == {"idx": 0, "label": "True"}
    boolq = get_task("superglue/BoolQ")
    examples = boolq.read(shared_data / "superglue/BoolQ", "test")
    assert submission_records(boolq, examples[:1], _outputs([0]))[0] == {"idx": 0, "label": "false"}


def test_majority_baseline_by_hand(shared_data):
    task = get_task("glue/RTE")
    train = task.read(shared_data / "glue/RTE", "train")
    dev = task.read(shared_data / "glue/RTE", "dev")
    majority = max(set(e.label for e in train), key=[e.label for e in train].count)
    expected = np.mean([e.label == majority for e in dev])
    assert majority_baseline(task, train, dev)["accuracy"] == pytest.approx(expected)


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
    """RTE's model stands in for every GLUE task with two labels; the others are reported skipped."""
    import shutil

    cfg, _ = tiny_classifier_run
    runs = tmp_path / "runs"
    for name in ("RTE", "QNLI", "WNLI", "CoLA", "SST-2", "MRPC"):
        shutil.copytree(cfg.out, runs / name)
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
