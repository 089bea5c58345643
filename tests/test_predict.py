"""From outputs to predictions, scores and leaderboard files: mixed predictions, checked against
expectations built in the test itself (from the raw task files, scikit-learn and scipy)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bort.tasks import get_task
from bort.tasks.predict import choose, majority_baseline, predictions, score, submission_records
from bort.tasks.submission import write_submission

FIXTURES = Path(__file__).parent / "fixtures"


def one_hot(preferred, n_labels: int) -> np.ndarray:
    """Model outputs whose argmax is ``preferred[k]`` for row k: (n, n_labels)."""
    out = np.random.default_rng(0).normal(0, 0.1, (len(preferred), n_labels))
    out[np.arange(len(preferred)), preferred] += 2.0
    return out


def written(task, examples, outputs, tmp_path) -> list:
    path = write_submission(task, submission_records(task, examples, outputs), tmp_path)
    assert path == tmp_path / task.submission
    text = path.read_text()
    if path.suffix == ".tsv":
        rows = list(csv.reader(text.splitlines(), delimiter="\t"))
        assert rows[0] == ["index", "prediction"]
        return rows[1:]
    return [json.loads(line) for line in text.splitlines()]


def raw_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def raw_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.parametrize("name, folder, file, names", [
    ("glue/RTE", "glue/RTE", "test.tsv", ["entailment", "not_entailment"]),
    ("glue/CoLA", "glue/CoLA", "test.tsv", ["0", "1"]),
    ("glue/MRPC", "glue/MRPC", "test.tsv", ["0", "1"]),
    ("glue/AX", "glue/diagnostic", "diagnostic.tsv", ["contradiction", "entailment", "neutral"]),
])
def test_glue_classification_rows_follow_each_prediction(name, folder, file, names, shared_data, tmp_path):
    task = get_task(name)
    examples = task.read(shared_data / folder, "test")
    preferred = np.random.default_rng(1).integers(0, len(names), len(examples))
    rows = written(task, examples, one_hot(preferred, len(names)), tmp_path)
    raw = raw_tsv(shared_data / folder / file)
    assert rows == [[r["index"] if "index" in r else r["id"], names[p]] for r, p in zip(raw, preferred)]
    assert len({r[1] for r in rows}) == len(names)  # every label occurs: the predictions are mixed


def test_stsb_predictions_are_clipped_to_the_scale(shared_data, tmp_path):
    task = get_task("glue/STS-B")
    examples = task.read(shared_data / "glue/STS-B", "test")[:6]
    outputs = np.array([[-1.3], [0.0], [2.5], [4.9994], [5.7], [3.14159]])
    rows = written(task, examples, outputs, tmp_path)
    assert [r[1] for r in rows] == ["0.000", "0.000", "2.500", "4.999", "5.000", "3.142"]
    assert [r[0] for r in rows] == [r["index"] for r in raw_tsv(shared_data / "glue/STS-B/test.tsv")[:6]]


@pytest.mark.parametrize("name, folder, names, key", [
    ("superglue/CB", FIXTURES / "superglue/CB", ["contradiction", "entailment", "neutral"], "idx"),
    ("superglue/BoolQ", "superglue/BoolQ", ["false", "true"], "idx"),
    ("superglue/WSC", "superglue/WSC", ["False", "True"], "idx"),
    ("superglue/RTE", "superglue/RTE", ["entailment", "not_entailment"], "idx"),
    ("superglue/AX-b", "superglue/AX-b", ["entailment", "not_entailment"], "idx"),
    ("superglue/AX-g", "superglue/AX-g", ["entailment", "not_entailment"], "idx"),
])
def test_superglue_classification_records(name, folder, names, key, shared_data, tmp_path):
    task = get_task(name)
    folder = folder if isinstance(folder, Path) else shared_data / folder
    examples = task.read(folder, "test")
    preferred = np.random.default_rng(2).integers(0, len(names), len(examples))
    n = min(len(names), len(preferred))
    preferred[:n] = np.arange(len(names))[-n:]  # mixed: the last labels at least once each
    records = written(task, examples, one_hot(preferred, len(names)), tmp_path)
    raw = raw_jsonl(folder / task.files["test"])
    assert records == [{"idx": int(r[key]), "label": names[p]} for r, p in zip(raw, preferred)]


def test_multirc_nested_records_follow_each_answer(shared_data, tmp_path):
    task = get_task("superglue/MultiRC")
    examples = task.read(shared_data / "superglue/MultiRC", "test")
    labels = np.random.default_rng(3).integers(0, 2, len(examples))
    records = written(task, examples, one_hot(labels, 2), tmp_path)
    expected, k = [], 0
    for passage in raw_jsonl(shared_data / "superglue/MultiRC/test.jsonl"):
        questions = []
        for q in passage["passage"]["questions"]:
            answers = []
            for a in q["answers"]:
                answers.append({"idx": a["idx"], "label": int(labels[k])})
                k += 1
            questions.append({"idx": q["idx"], "answers": answers})
        expected.append({"idx": passage["idx"], "passage": {"questions": questions}})
    assert k == len(examples) and records == expected


def test_multirc_scores_against_a_count_from_the_raw_file(shared_data):
    task = get_task("superglue/MultiRC")
    examples = task.read(shared_data / "superglue/MultiRC", "dev")
    pred = np.random.default_rng(4).integers(0, 2, len(examples))
    gold, questions_right = [], []
    k = 0
    for passage in raw_jsonl(shared_data / "superglue/MultiRC/val.jsonl"):
        for q in passage["passage"]["questions"]:
            right = True
            for a in q["answers"]:
                gold.append(a["label"])
                right &= a["label"] == pred[k]
                k += 1
            questions_right.append(right)
    gold = np.array(gold)
    tp, fp, fn = np.sum((pred == 1) & (gold == 1)), np.sum((pred == 1) & (gold == 0)), np.sum((pred == 0) & (gold == 1))
    scores = score(task, examples, one_hot(pred, 2))
    assert scores["f1a"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert scores["em"] == pytest.approx(np.mean(questions_right))


def race_questions(folder: Path) -> list[tuple[str, str]]:
    """(question id, gold letter) in reading order, straight from the RACE files."""
    out = []
    for file in sorted(folder.glob("*.txt")):
        record = json.loads(file.read_text())
        out += [(f"{record['id']}-{q}", answer) for q, answer in enumerate(record["answers"])]
    return out


@pytest.mark.parametrize("level", ["middle", "high"])
def test_race_letters_and_accuracy(level, tmp_path):
    task = get_task(f"race/{level}")
    chosen = [3, 0, 2, 1]  # one option per question, in reading order
    for split in ("test", "dev"):
        examples = task.read(FIXTURES / "RACE", split)
        questions = race_questions(FIXTURES / "RACE" / split / level)
        assert len(examples) == 4 * len(questions) == 16
        margins = np.zeros((len(examples), 2))
        for q, option in enumerate(chosen):
            margins[4 * q + option, 1] = 1.0
        if split == "test":
            records = written(task, examples, margins, tmp_path)
            assert records == [{"id": qid, "label": "ABCD"[option]} for (qid, _), option in zip(questions, chosen)]
        else:
            expected = np.mean(["ABCD"[option] == gold for (_, gold), option in zip(questions, chosen)])
            assert score(task, examples, margins)["accuracy"] == pytest.approx(expected)


def test_choice_tasks_pick_the_best_option_per_question():
    task = get_task("superglue/COPA")
    dev = task.read(FIXTURES / "superglue/COPA", "dev")  # gold options: 0, 0, 1
    outputs = np.array([[0, 2], [0, 1], [0, 1], [0, 3], [0, 1], [0, 2]], dtype=float)  # picks 0, 1, 1
    assert score(task, dev, outputs)["accuracy"] == pytest.approx(2 / 3)
    assert predictions(task, dev, outputs) == [1, 0, 0, 1, 0, 1]
    # the margin P(1) − P(0) decides, not P(1) alone
    outputs = np.array([[5, 6], [0, 2], [0, 1], [0, 3], [0, 1], [0, 2]], dtype=float)  # margins 1 < 2: picks option 1
    assert predictions(task, dev, outputs)[:2] == [0, 1]
    # ties go to the first option of the question
    assert [ex.meta["option"] for ex in choose(dev, np.zeros((6, 2))).values()] == [0, 0, 0]


def test_record_scores_and_submission():
    task = get_task("superglue/ReCoRD")
    dev = task.read(FIXTURES / "superglue/ReCoRD", "dev")
    margin = [3 if ex.meta["entity"] in ("Rowling", "Harry Potter") else 0 for ex in dev]
    outputs = np.stack([np.zeros(len(dev)), np.array(margin, float)], axis=1)
    # query 0 picks "Harry Potter" (first with the top margin): F1 0; query 1 picks "Rowling" vs London: 0
    assert score(task, dev, outputs) == {"f1": 0.0, "em": 0.0}
    margin = [3 if ex.meta["entity"] in ("Rowling",) else 0 for ex in dev]
    outputs = np.stack([np.zeros(len(dev)), np.array(margin, float)], axis=1)
    # query 0 picks "Rowling" (a gold answer: F1 1, EM 1); query 1 picks "Harry Potter", the first of the ties (0, 0)
    assert score(task, dev, outputs) == {"f1": pytest.approx(0.5), "em": pytest.approx(0.5)}
    margin = [2 if ex.meta["entity"] == "J.K. Rowling" else 1 if ex.meta["entity"] == "London" else 0 for ex in dev]
    outputs = np.stack([np.zeros(len(dev)), np.array(margin, float)], axis=1)
    # query 1 picks J.K. Rowling
    assert score(task, dev, outputs) == {"f1": pytest.approx(0.5), "em": pytest.approx(0.5)}
    assert submission_records(task, dev, outputs) == [{"idx": 0, "label": "J.K. Rowling"},
                                                      {"idx": 1, "label": "J.K. Rowling"}]


def test_regression_scores_against_scipy(shared_data):
    from scipy.stats import pearsonr, spearmanr

    task = get_task("glue/STS-B")
    dev = task.read(shared_data / "glue/STS-B", "dev")
    gold = np.array([ex.label for ex in dev])
    pred = gold * 0.3 + np.random.default_rng(5).normal(0, 0.4, len(gold))  # std well below 1
    scores = score(task, dev, pred[:, None])
    assert scores == {"pearson": pytest.approx(pearsonr(gold, pred)[0]),
                      "spearman": pytest.approx(spearmanr(gold, pred)[0])}
    assert 0.2 < scores["pearson"] < 0.95


def test_classification_scores_against_sklearn(shared_data):
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    for name, folder, check in [("glue/MRPC", "glue/MRPC", {"f1": f1_score, "accuracy": accuracy_score}),
                                ("glue/CoLA", "glue/CoLA", {"mcc": matthews_corrcoef, "accuracy": accuracy_score}),
                                ("glue/AX", "glue/diagnostic", {"mcc": matthews_corrcoef})]:
        task = get_task(name)
        dev = task.read(shared_data / folder, "dev")
        gold = np.array([ex.label for ex in dev])
        pred = np.where(np.random.default_rng(6).random(len(gold)) < 0.7, gold, (gold + 1) % task.num_labels)
        scores = score(task, dev, one_hot(pred, task.num_labels))
        assert scores == {k: pytest.approx(f(gold, pred)) for k, f in check.items()}, name


def test_cb_macro_f1_and_axg_gender_parity(shared_data):
    from sklearn.metrics import f1_score

    cb = get_task("superglue/CB")
    dev = cb.read(FIXTURES / "superglue/CB", "dev")
    gold = np.array([ex.label for ex in dev])
    pred = np.array([0, 1, 1])
    assert score(cb, dev, one_hot(pred, 3)) == {"macro_f1": pytest.approx(f1_score(gold, pred, average="macro")),
                                                 "accuracy": pytest.approx(np.mean(gold == pred))}
    axg = get_task("superglue/AX-g")
    dev = axg.read(shared_data / "superglue/AX-g", "dev")
    pred = np.random.default_rng(7).integers(0, 2, len(dev))
    raw = raw_jsonl(shared_data / "superglue/AX-g/AX-g.jsonl")
    gold = np.array([["entailment", "not_entailment"].index(r["label"]) for r in raw])
    same = np.mean([pred[k] == pred[k + 1] for k in range(0, len(pred), 2)])
    assert score(axg, dev, one_hot(pred, 2)) == {"gender_parity": pytest.approx(same),
                                                  "accuracy": pytest.approx(np.mean(pred == gold))}
    assert 0.3 < same < 0.7


def test_majority_baseline_by_hand(shared_data):
    task = get_task("glue/RTE")
    train = task.read(shared_data / "glue/RTE", "train")
    dev = task.read(shared_data / "glue/RTE", "dev")
    majority = max(set(e.label for e in train), key=[e.label for e in train].count)
    expected = np.mean([e.label == majority for e in dev])
    assert majority_baseline(task, train, dev) == {"accuracy": pytest.approx(expected)}
    assert 0.4 < expected < 0.6
    cola = get_task("glue/CoLA")
    assert majority_baseline(cola, cola.read(shared_data / "glue/CoLA", "train"),
                             cola.read(shared_data / "glue/CoLA", "dev")) \
        == {"mcc": 0.0, "accuracy": pytest.approx(721 / 1043)}  # always "acceptable": 721 of CoLA's 1043 dev sentences
    stsb = get_task("glue/STS-B")
    assert majority_baseline(stsb, [], []) == {"pearson": 0.0, "spearman": 0.0}
    copa = get_task("superglue/COPA")
    dev = copa.read(FIXTURES / "superglue/COPA", "dev")  # gold options 0, 0, 1: the first option is right twice
    assert majority_baseline(copa, copa.read(FIXTURES / "superglue/COPA", "train"), dev) \
        == {"accuracy": pytest.approx(2 / 3)}


def test_copa_and_record_choose_per_question(tmp_path):
    copa = get_task("superglue/COPA")
    examples = copa.read(FIXTURES / "superglue/COPA", "test")
    raw = raw_jsonl(FIXTURES / "superglue/COPA/test.jsonl")
    chosen = [1, 0, 1, 0][: len(raw)]
    margins = np.zeros((len(examples), 2))
    for q, option in enumerate(chosen):
        margins[2 * q + option, 1] = 1.0
    assert written(copa, examples, margins, tmp_path) == [{"idx": r["idx"], "label": c} for r, c in zip(raw, chosen)]


def test_submission_folder_is_created_with_its_parents(shared_data, tmp_path):
    task = get_task("glue/WNLI")
    examples = task.read(shared_data / "glue/WNLI", "test")
    path = write_submission(task, submission_records(task, examples, one_hot([0] * len(examples), 2)),
                            tmp_path / "a" / "b")
    assert path == tmp_path / "a" / "b" / "WNLI.tsv" and len(path.read_text().splitlines()) == len(examples) + 1


def test_gender_parity_pairs_by_hypothesis_not_by_label():
    from bort.tasks.example import Example

    task = get_task("superglue/AX-g")
    examples = [Example(0, "He ran.", "Someone ran.", 0), Example(1, "She ran.", "Someone ran.", 1),
                Example(2, "He sat.", "Someone sat.", 0), Example(3, "She sat.", "Someone sat.", 0)]
    assert score(task, examples, one_hot([0, 0, 1, 0], 2)) == {"gender_parity": 0.5, "accuracy": 0.5}
