"""The user's own task (--task custom): their CSV / TSV / JSON-lines / Parquet files, fine-tuned, evaluated, \
predicted."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score

from bort.data import CUSTOM_TASK_DIR
from bort.errors import BortError
from bort.tasks.custom import CustomTaskOptions, custom_task

PAIR = ["--text-column", "question", "--text-pair-column", "sentence"]


def run_cli(*args) -> int:
    """``bort ARGS`` through the CLI's own main, in this process: its exit status."""
    from bort.cli.main import main

    return main([str(a) for a in args])


def csv_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def example_options(**kw) -> CustomTaskOptions:
    return CustomTaskOptions(train=str(CUSTOM_TASK_DIR / "train.csv"), dev=str(CUSTOM_TASK_DIR / "dev.csv"),
                             test=str(CUSTOM_TASK_DIR / "test.csv"), text_column="question",
                             text_pair_column="sentence", **kw)


def test_the_shipped_example_reads_as_its_csv_module_reading():
    task = custom_task(example_options())
    assert task.kind == "classification" and task.labels == ("entailment", "not_entailment")
    assert task.metrics == ("accuracy", "f1", "mcc")
    rows = csv_rows(CUSTOM_TASK_DIR / "train.csv")
    examples = task.read("", "train")
    assert len(examples) == len(rows) == 800
    assert [(e.text_a, e.text_b, task.labels[e.label]) for e in examples] == \
           [(r["question"], r["sentence"], r["label"]) for r in rows]
    test = task.read("", "test")
    assert len(test) == 100 and all(e.label is None for e in test)  # a test file without its label column
    assert (CUSTOM_TASK_DIR / "SOURCES.md").read_text().count("CC BY-SA 4.0") >= 1


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl", ".parquet"])
def test_every_format_gives_the_csv_files_examples(suffix, tmp_path):
    import pandas as pd

    frame = pd.read_csv(CUSTOM_TASK_DIR / "dev.csv")
    path = tmp_path / f"dev{suffix}"
    if suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path)
    reference = custom_task(example_options()).read("", "dev")
    other = custom_task(example_options(), labels=("entailment", "not_entailment"))
    assert other.reader(path, "dev") == reference


def test_classes_come_sorted_from_the_training_file_and_f1_follows_the_metric(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"text": f"s{i}", "label": lab}) + "\n"
                            for i, lab in enumerate(["b", "c", "a", "b"])))
    task = custom_task(CustomTaskOptions(train=str(path), dev=str(path), metric="f1"))
    assert task.labels == ("a", "b", "c") and task.metrics[0] == "macro_f1"  # three classes: macro-F1
    assert [e.label for e in task.read("", "train")] == [1, 2, 0, 1]
    numeric = tmp_path / "n.csv"
    numeric.write_text("text,label\nx,10\ny,2\nz,2\n")
    assert custom_task(CustomTaskOptions(train=str(numeric), dev=str(numeric))).labels == ("2", "10")
    signed = tmp_path / "s.csv"
    signed.write_text("text,label\nx,1\ny,-1\n")  # F1's positive class is the second: 1
    assert custom_task(CustomTaskOptions(train=str(signed), dev=str(signed))).labels == ("-1", "1")


def test_text_that_looks_missing_or_numeric_is_text_and_a_blank_test_label_column_is_unlabelled(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\nNA,a\nNone,b\n2024,a\n")
    task = custom_task(CustomTaskOptions(train=str(path), dev=str(path), test=str(tmp_path / "test.csv")))
    assert [e.text_a for e in task.read("", "train")] == ["NA", "None", "2024"]
    (tmp_path / "test.csv").write_text("text,label\nfirst,\nsecond,\n")
    assert [e.label for e in task.read("", "test")] == [None, None]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from bort.architecture import Arch
    from bort.architecture.build import build_roberta
    from bort.tokenizer import load_tokenizer

    encoder = tmp_path_factory.mktemp("custom") / "encoder"
    build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=0).save_pretrained(encoder)
    load_tokenizer().save_pretrained(encoder)
    return encoder


def labelled_test_file(folder: Path) -> Path:
    """A labelled test file: the last 60 rows of the shipped training file, in its own columns."""
    lines = (CUSTOM_TASK_DIR / "train.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    rows = list(csv.reader(lines))
    path = folder / "labelled_test.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([rows[0], *rows[-60:]])
    return path


@pytest.fixture(scope="module")
def example_run(tiny_encoder, tmp_path_factory):
    """A custom task fine-tuned with a labelled --test file beside its train and dev files."""
    folder = tmp_path_factory.mktemp("custom-run")
    out = folder / "run"
    result = run_cli("finetune", "--model", tiny_encoder, "--task", "custom", "--train", CUSTOM_TASK_DIR / "train.csv",
                     "--dev", CUSTOM_TASK_DIR / "dev.csv", "--test", labelled_test_file(folder), *PAIR, "--out", out,
                     "--epochs", "1", "--max-len", "64", "--max-train-examples", "128", "--lr", "1e-3")
    assert result == 0
    return out


def test_a_labelled_test_file_is_predicted_and_scored_beside_dev(example_run):
    """The selected model predicts --test once: its rows in test_predictions.jsonl, their accuracy (scikit-learn's)
    in metrics.json and in the card's model-index, named as the test split."""
    from bort.model_card import read_card

    gold = [r["label"] for r in csv_rows(example_run.parent / "labelled_test.csv")]
    rows = [json.loads(line) for line in (example_run / "test_predictions.jsonl").read_text().splitlines()]
    names = json.loads((example_run / "config.json").read_text())["id2label"]
    assert len(rows) == len(gold) == 60 and [names[str(r["label"])] for r in rows] == gold
    metrics = json.loads((example_run / "metrics.json").read_text())
    assert metrics["test_examples"] == 60 and metrics["test_labelled"]
    assert metrics["test_metrics"]["accuracy"] == pytest.approx(
        accuracy_score(gold, [names[str(r["prediction"])] for r in rows]))
    test_results = [r for r in read_card(example_run).data.eval_results if r.dataset_split == "test"]
    assert [r.metric_value for r in test_results if r.metric_type == "accuracy"] == [
        pytest.approx(metrics["test_metrics"]["accuracy"])]


def test_an_unlabelled_test_file_is_predicted_and_said_unscored(tmp_path):
    from bort.finetune.test_split import write_test_predictions
    from bort.tasks.example import Example

    task = custom_task(CustomTaskOptions(train=str(CUSTOM_TASK_DIR / "train.csv"), text_column="question",
                                         text_pair_column="sentence"))
    examples = [Example(uid=str(i), text_a="a", text_b="b", label=None) for i in range(3)]
    summary = write_test_predictions(task, examples, np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 0.5]]), tmp_path)
    assert summary == {"test_examples": 3, "test_labelled": False}
    rows = [json.loads(line) for line in (tmp_path / "test_predictions.jsonl").read_text().splitlines()]
    assert [r["prediction"] for r in rows] == [1, 0, 1] and all(r["label"] is None for r in rows)


def test_a_custom_run_scores_its_dev_file_and_keeps_the_class_names(example_run):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(example_run)
    assert [config.id2label[i] for i in range(2)] == ["entailment", "not_entailment"]
    metrics = json.loads((example_run / "metrics.json").read_text())
    gold = [r["label"] for r in csv_rows(CUSTOM_TASK_DIR / "dev.csv")]
    predicted = [config.id2label[json.loads(line)["prediction"]]
                 for line in (example_run / "dev_predictions.jsonl").read_text().splitlines()]
    assert metrics["dev"]["accuracy"] == pytest.approx(accuracy_score(gold, predicted))


def test_evaluate_predicts_an_unlabelled_test_file_and_rescores_dev(example_run, tmp_path):
    test = run_cli("evaluate", "--model", example_run, "--task", "custom", "--split", "test",
                   "--test", CUSTOM_TASK_DIR / "test.csv", *PAIR, "--submission", tmp_path / "pred")
    assert test == 0
    rows = [json.loads(line) for line in (tmp_path / "pred" / "predictions.jsonl").read_text().splitlines()]
    source = csv_rows(CUSTOM_TASK_DIR / "test.csv")
    assert [r["row"] for r in rows] == list(range(1, 101))
    assert [r["text"] for r in rows] == [s["question"] for s in source]
    assert {r["label"] for r in rows} <= {"entailment", "not_entailment"}
    dev = run_cli("evaluate", "--model", example_run, "--task", "custom", "--dev", CUSTOM_TASK_DIR / "dev.csv",
                  *PAIR, "--out", tmp_path / "dev.json", "--submission", tmp_path / "dev-pred")
    assert dev == 0
    saved = json.loads((tmp_path / "dev.json").read_text())["metrics"]
    metrics = json.loads((example_run / "metrics.json").read_text())
    assert saved["accuracy"] == pytest.approx(metrics["dev"]["accuracy"])


def test_evaluate_writes_only_where_it_says_never_into_the_model(example_run, tmp_path, monkeypatch):
    """The metrics go to --out (predictions beside them), or to ./eval-MODEL-TASK-SPLIT/; the model's folder is
    read, never written."""
    before = {p: p.stat().st_mtime_ns for p in example_run.rglob("*")}
    assert run_cli("evaluate", "--model", example_run, "--task", "custom", "--split", "test",
                   "--test", CUSTOM_TASK_DIR / "test.csv", *PAIR, "--out", tmp_path / "scores" / "m.json") == 0
    assert len((tmp_path / "scores" / "predictions.jsonl").read_text().splitlines()) == 100
    monkeypatch.chdir(tmp_path)
    assert run_cli("evaluate", "--model", example_run, "--task", "custom", "--dev", CUSTOM_TASK_DIR / "dev.csv",
                   *PAIR) == 0
    default = tmp_path / f"eval-{example_run.name}-custom-dev"
    assert json.loads((default / "metrics.json").read_text())["metrics"]["accuracy"] == pytest.approx(
        json.loads((example_run / "metrics.json").read_text())["dev"]["accuracy"])
    assert (default / "predictions.jsonl").is_file()
    assert {p: p.stat().st_mtime_ns for p in example_run.rglob("*")} == before


def test_a_regression_column_trains_a_regressor_scored_by_pearson(tiny_encoder, shared_data, tmp_path):
    """Real STS-B pairs as JSON lines: the score column is a float, --metric pearson makes it a regression."""
    rows = list(csv.DictReader(open(shared_data / "glue/STS-B/dev.tsv", encoding="utf-8"), delimiter="\t",
                               quoting=csv.QUOTE_NONE))
    for name, part in (("train.jsonl", rows[:96]), ("dev.jsonl", rows[96:160])):
        (tmp_path / name).write_text("".join(json.dumps({"a": r["sentence1"], "b": r["sentence2"],
                                                         "score": float(r["score"])}) + "\n" for r in part))
    out = tmp_path / "run"
    result = run_cli("finetune", "--model", tiny_encoder, "--task", "custom", "--train", tmp_path / "train.jsonl",
                     "--dev", tmp_path / "dev.jsonl", "--text-column", "a", "--text-pair-column", "b",
                     "--label-column", "score", "--metric", "pearson", "--out", out, "--epochs", "1",
                     "--max-len", "64", "--lr", "1e-3")
    assert result == 0
    metrics = json.loads((out / "metrics.json").read_text())
    predictions = [json.loads(line) for line in (out / "dev_predictions.jsonl").read_text().splitlines()]
    gold = [float(r["score"]) for r in rows[96:160]]
    assert [p["label"] for p in predictions] == pytest.approx(gold)
    expected = pearsonr(gold, [p["prediction"] for p in predictions])[0] \
        if np.std([p["prediction"] for p in predictions]) else 0.0
    assert metrics["dev"]["pearson"] == pytest.approx(expected)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD = {
    "missing column": (b"sentence,label\nhi,a\nyo,b\n", [], "no column 'text' (--text-column); its columns are "
                                                            "'sentence', 'label'"),
    "one class": (b"text,label\nhi,a\nyo,a\n", [], "holds one class ('a')"),
    "non-numeric regression": (b"text,label\nhi,0.5\nyo,high\n", ["--metric", "pearson"], "row 2: the regression "
                                                                                           "column 'label' must hold "
                                                                                           "numbers"),
    "latin-1": (b"text,label\nh\xe9,a\nyo,b\n", [], "is not UTF-8 text (byte 0xe9 at offset 12)"),
    "utf-16": ("text,label\nhi,a\nyo,b\n".encode("utf-16"), [], "is UTF-16 text"),
    "unknown suffix": (b"text,label\nhi,a\nyo,b\n", [], "unknown file type '.xlsx'"),
    "empty text": (b"text,label\n,a\nyo,b\n", [], "row 1: column 'text' is empty"),
    "repeated column": (b"text,label,label\nhi,a,b\nyo,b,a\n", [], "line 1: the header names column 'label' twice"),
    "repeated key": (b'{"text": "hi", "label": "a"}\n{"text": "yo", "label": "b", "label": "a"}\n', [],
                     "line 2: the key 'label' appears twice in one object"),
}


def run_in_process(capsys, *args) -> tuple[int, str]:
    """``bort ARGS`` in this process: (exit status, what it wrote on stderr)."""
    status = run_cli(*args)
    return status, capsys.readouterr().err


@pytest.mark.parametrize("case", BAD)
def test_bad_custom_files_are_one_line_and_write_nothing(case, tiny_encoder, tmp_path, capsys):
    data, extra, message = BAD[case]
    suffix = {"unknown suffix": ".xlsx", "repeated key": ".jsonl"}.get(case, ".csv")
    path = _write(tmp_path / f"train{suffix}", data)
    out = tmp_path / "run"
    status, err = run_in_process(capsys, "finetune", "--model", tiny_encoder, "--task", "custom", "--train", path,
                                 "--dev", path, "--out", out, *extra)
    assert status == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_utf8_bom_is_read_not_refused(tmp_path):
    path = _write(tmp_path / "bom.csv", b"\xef\xbb\xbftext,label\nhi,a\nyo,b\n")
    task = custom_task(CustomTaskOptions(train=str(path), dev=str(path)))
    assert [e.text_a for e in task.read("", "train")] == ["hi", "yo"]


@pytest.mark.parametrize("args, message", [
    (["--task", "custom", "--dev", "d.csv"], "--task custom needs --train FILE"),
    (["--task", "glue/RTE", "--data", "x", "--train", "t.csv"], "--train applies to --task custom only"),
    (["--task", "glue/RTE"], "--data TASK_DIR is required"),
])
def test_custom_flags_are_checked_before_any_work(args, message, tiny_encoder, tmp_path, capsys):
    status, err = run_in_process(capsys, "finetune", "--model", tiny_encoder, "--out", tmp_path / "run", *args)
    assert status == 2 and message in err, err


def test_the_options_refuse_an_unknown_split_file_before_reading(tmp_path):
    with pytest.raises(BortError, match="does not exist"):
        custom_task(CustomTaskOptions(train=str(tmp_path / "none.csv"), dev=str(tmp_path / "none.csv")))


def test_export_scores_its_candidates_on_a_custom_dev_file(prepared_inputs, tmp_path):
    """export --task custom: the dev file's classes read from the model's id2label, each candidate scored on it."""
    rows = csv_rows(CUSTOM_TASK_DIR / "dev.csv")[:40]
    with open(tmp_path / "dev.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "label"])
        writer.writerows([r["question"], r["label"]] for r in rows)
    out = tmp_path / "served"
    assert run_cli("export", prepared_inputs["classifier"], "--path", "eager", "--task", "custom", "--dev",
                   tmp_path / "dev.csv", "--text-column", "question", "--max-len", "32", "--seq-len", "16",
                   "--rounds", "1", "--max-rounds", "1", "--out", out) == 0
    record = json.loads((out / "export.json").read_text())
    assert record["bar"]["task"] == "custom" and 0 <= record["candidates"]["eager"]["task_score"] <= 100
