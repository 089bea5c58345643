"""GLUE readers (the official ``glue_data`` TSVs), by each file's documented columns."""

from __future__ import annotations

from pathlib import Path

from bort.errors import BortError
from bort.tasks.example import Example
from bort.tasks.io import label_index, read_tsv
from bort.tasks.spec import TaskSpec

NLI3 = ("contradiction", "entailment", "neutral")
NLI2 = ("entailment", "not_entailment")
BINARY = ("0", "1")


def _pair_reader(a: str, b: str | None, label: str | None, labels: tuple[str, ...], index: str | None = None,
                 headerless: list[str] | None = None, test_headerless: list[str] | None = None,
                 test_a: str | None = None, test_b: str | None = None, regression: bool = False):
    """A reader for a TSV whose text columns are ``a`` (and ``b``) and whose gold column is ``label``.

    Test files have no label and use ``index`` as the example's id; ``headerless`` names the
    columns of files without a header (CoLA's train and dev).
    """

    def read(path: Path, split: str) -> list[Example]:
        is_test = split.startswith("test")
        columns = test_headerless if is_test else headerless
        text_a, text_b = (test_a or a, test_b or b) if is_test else (a, b)
        required = [c for c in (text_a, text_b) if c] + ([index] if is_test and index else []) + \
                   ([label] if label and not is_test else [])
        examples = []
        for n, (line_no, row) in enumerate(read_tsv(path, columns, required)):
            gold = None
            if not is_test and label:
                if regression:
                    try:
                        gold = float(row[label])
                    except ValueError:
                        raise BortError(f"{path}, line {line_no}: field {label!r} must be a number, got {row[label]!r}")
                else:
                    gold = label_index(row[label], list(labels), path, line_no, label)
            uid = row[index] if index and index in row else n
            examples.append(Example(uid=uid, text_a=row[text_a], text_b=row[text_b] if text_b else None, label=gold))
        return examples

    return read


def _ax_reader(path: Path, split: str) -> list[Example]:
    """AX: ``diagnostic.tsv`` (index, sentence1, sentence2) for the leaderboard, or the labelled
    ``diagnostic-full.tsv`` (…, Premise, Hypothesis, Label) for local scoring."""
    if split == "test":
        return [Example(uid=row["index"], text_a=row["sentence1"], text_b=row["sentence2"])
                for _, row in read_tsv(path, required=["index", "sentence1", "sentence2"])]
    return [Example(uid=n, text_a=row["Premise"], text_b=row["Hypothesis"],
                    label=label_index(row["Label"], list(NLI3), path, line_no, "Label"))
            for n, (line_no, row) in enumerate(read_tsv(path, required=["Premise", "Hypothesis", "Label"]))]


_MNLI = _pair_reader("sentence1", "sentence2", "gold_label", NLI3, index="index")

GLUE_TASKS = [
    TaskSpec("glue/CoLA", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("sentence", None, "label", BINARY, index="index",
                          headerless=["source", "label", "original_label", "sentence"]),
             ("mcc", "accuracy"), "CoLA.tsv", BINARY),
    TaskSpec("glue/SST-2", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("sentence", None, "label", BINARY, index="index"), ("accuracy",), "SST-2.tsv", BINARY),
    TaskSpec("glue/MRPC", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("#1 String", "#2 String", "Quality", BINARY, index="index"), ("f1", "accuracy"), "MRPC.tsv",
             BINARY),
    TaskSpec("glue/STS-B", "regression", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("sentence1", "sentence2", "score", (), index="index", regression=True),
             ("pearson", "spearman"), "STS-B.tsv"),
    TaskSpec("glue/QQP", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("question1", "question2", "is_duplicate", BINARY, index="id"), ("f1", "accuracy"), "QQP.tsv",
             BINARY),
    TaskSpec("glue/MNLI-m", "classification",
             {"train": "train.tsv", "dev": "dev_matched.tsv", "test": "test_matched.tsv"}, _MNLI, ("accuracy",),
             "MNLI-m.tsv", NLI3),
    TaskSpec("glue/MNLI-mm", "classification",
             {"train": "train.tsv", "dev": "dev_mismatched.tsv", "test": "test_mismatched.tsv"}, _MNLI, ("accuracy",),
             "MNLI-mm.tsv", NLI3),
    TaskSpec("glue/QNLI", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("question", "sentence", "label", NLI2, index="index"), ("accuracy",), "QNLI.tsv", NLI2),
    TaskSpec("glue/RTE", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("sentence1", "sentence2", "label", NLI2, index="index"), ("accuracy",), "RTE.tsv", NLI2),
    TaskSpec("glue/WNLI", "classification", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
             _pair_reader("sentence1", "sentence2", "label", BINARY, index="index"), ("accuracy",), "WNLI.tsv", BINARY),
    TaskSpec("glue/AX", "classification", {"dev": "diagnostic-full.tsv", "test": "diagnostic.tsv"}, _ax_reader,
             ("mcc",), "AX.tsv", NLI3, scored_by="glue/MNLI-m", test_only=True,
             notes="the diagnostic set, predicted by an MNLI model; TASK_DIR is glue/diagnostic"),
]
