"""The user's own task: ``--task custom`` with their CSV, TSV, JSON-lines or Parquet files and column names.

Classification takes its classes from the training file's label column (sorted, so that a run and a
re-run agree; the fine-tuned model keeps their names in ``id2label``); regression (``--metric
pearson`` or ``spearman``) takes a numeric column. The result is an ordinary :class:`TaskSpec`, so
fine-tuning, Agora, evaluation and export treat it as they treat RTE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bort.config import Config, option
from bort.errors import BortError
from bort.tasks.example import Example
from bort.tasks.spec import TaskSpec
from bort.util.data_files import read_table, require_columns

CUSTOM = "custom"
METRICS = ("accuracy", "f1", "mcc", "pearson", "spearman")
REGRESSION_METRICS = ("pearson", "spearman")
GROUP = "your own task (--task custom)"
SPLIT_FLAGS = {"train": "--train", "dev": "--dev", "test": "--test"}


@dataclass(kw_only=True)
class CustomTaskOptions(Config):
    """Where a custom task's files are and which columns hold what; mixed into the configs that read tasks."""

    train: str | None = option(None, "the training file: CSV, TSV, JSON lines (.jsonl) or Parquet, with a header "
                               "naming its columns", metavar="FILE", group=GROUP, last=True)
    dev: str | None = option(None, "the labelled file selected (and, with a hold-out, scored) on", metavar="FILE",
                             group=GROUP, last=True)
    test: str | None = option(None, "a file to predict, labelled or not: bort finetune predicts it with the model it "
                              "selects (and scores it when labelled); bort evaluate --split test reads it",
                              metavar="FILE", group=GROUP, last=True)
    text_column: str = option("text", "the column holding the text (the first text of a pair)", metavar="COLUMN",
                              group=GROUP, last=True)
    text_pair_column: str | None = option(None, "the column holding a pair's second text",
                                           metavar="COLUMN", group=GROUP, last=True)
    label_column: str = option("label", "the column holding the label: a class (any value) or, for regression, a "
                               "number", metavar="COLUMN", group=GROUP, last=True)
    metric: str | None = option(None, "the metric early stopping follows: accuracy, f1, mcc (classification; f1 is "
                                "the F1 of the second class in sorted order, macro-averaged over more than two) or "
                                "pearson, spearman (regression on a numeric label column) (default: accuracy)",
                                choices=METRICS, group=GROUP, last=True)

    def custom_files(self) -> dict[str, str]:
        return {split: getattr(self, split) for split in SPLIT_FLAGS if getattr(self, split)}


def _metrics(metric: str | None, n_classes: int) -> tuple[str, ...]:
    """The task's metrics, the one early stopping follows first; f1 becomes macro-F1 beyond two classes."""
    if metric in REGRESSION_METRICS:
        return (metric, *[m for m in REGRESSION_METRICS if m != metric])
    f1 = "f1" if n_classes == 2 else "macro_f1"
    names = ["accuracy", f1, "mcc"]
    first = f1 if metric == "f1" else (metric or "accuracy")
    return (first, *[m for m in names if m != first])


def _label_text(value) -> str:
    """A label as its class name: JSON's true/false as written, a float that is an integer without its ``.0``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _class_order(label: str) -> tuple:
    """Numbers by value (-1 before 1, 2 before 10), before names in alphabetical order."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _number(value, path: Path, row: int, column: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BortError(f"{path}, row {row}: the regression column {column!r} must hold numbers, got {value!r}")
    if not math.isfinite(number):
        raise BortError(f"{path}, row {row}: the regression column {column!r} holds {value!r}; expected a finite "
                        "number")
    return number


def _text(value, path: Path, row: int, column: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        value = _label_text(value)  # a column of numbers, read as numbers: their text
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, float):
        raise BortError(f"{path}, row {row}: column {column!r} is empty")
    if not isinstance(value, str):
        raise BortError(f"{path}, row {row}: column {column!r} must hold text, got {value!r}")
    return value


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _columns(opts: CustomTaskOptions, labelled: bool) -> dict[str, str | None]:
    return {"--text-column": opts.text_column, "--text-pair-column": opts.text_pair_column,
            **({"--label-column": opts.label_column} if labelled else {})}


def training_labels(opts: CustomTaskOptions) -> tuple[str, ...]:
    """The classes of the training file's label column, sorted; at least two."""
    path = Path(opts.train)
    table = read_table(path, "--train")
    require_columns(table, path, _columns(opts, labelled=True))
    values = table[opts.label_column]
    if any(_blank(v) for v in values):
        row = next(i for i, v in enumerate(values) if _blank(v)) + 1
        raise BortError(f"{path}, row {row}: the label column {opts.label_column!r} is empty")
    labels = sorted({_label_text(v) for v in values}, key=_class_order)
    if len(labels) < 2:
        raise BortError(f"{path}: the label column {opts.label_column!r} holds one class ({labels[0]!r}); "
                        "classification needs at least two (or give --metric pearson for a regression column)")
    return tuple(labels)


def class_names(model_config) -> tuple[str, ...]:
    """A classifier's output columns by name, in order: its ``id2label`` (keys ints, or strings in a config.json
    read raw), ``LABEL_i`` where it names none."""
    id2label = model_config.id2label
    return tuple(str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(model_config.num_labels))


def model_labels(model_config) -> tuple[str, ...] | None:
    """A fine-tuned model's classes in output order (its ``id2label``); None for a regressor."""
    return None if model_config.num_labels == 1 else class_names(model_config)


def custom_task(opts: CustomTaskOptions, labels: tuple[str, ...] | None = None,
                regression: bool | None = None) -> TaskSpec:
    """The TaskSpec of the user's files.

    ``labels``: the classes in a fine-tuned model's order (default: the training file's, sorted);
    ``regression``: what the model is (default: what ``--metric`` says).
    """
    if regression is None:
        regression = opts.metric in REGRESSION_METRICS
    if regression and opts.metric not in (None, *REGRESSION_METRICS):
        raise BortError(f"--metric {opts.metric} scores classes; this model is a regressor (pearson or spearman)")
    if not regression and opts.metric in REGRESSION_METRICS:
        raise BortError(f"--metric {opts.metric} scores a regression; this model is a classifier")
    if not regression and labels is None:
        if not opts.train:
            raise BortError("--task custom needs --train FILE (its label column names the classes)")
        labels = training_labels(opts)
    labels = () if regression else tuple(labels)

    def read(path: Path, split: str) -> list[Example]:
        table = read_table(path, SPLIT_FLAGS.get(split, "the file"))
        # A test file is labelled when its label column is there and not left blank throughout.
        labelled = split != "test" or (opts.label_column in table.column_names
                                       and not all(_blank(v) for v in table[opts.label_column]))
        require_columns(table, path, _columns(opts, labelled))
        examples = []
        for row, record in enumerate(table, 1):
            gold = None
            if labelled:
                value = record[opts.label_column]
                if regression:
                    gold = _number(value, path, row, opts.label_column)
                else:
                    text = _label_text(value)
                    if text not in labels:
                        raise BortError(f"{path}, row {row}: unknown label {text!r} in {opts.label_column!r}; "
                                        f"expected one of {list(labels)}")
                    gold = labels.index(text)
            pair = _text(record[opts.text_pair_column], path, row, opts.text_pair_column) \
                if opts.text_pair_column else None
            examples.append(Example(uid=row - 1, text_a=_text(record[opts.text_column], path, row, opts.text_column),
                                    text_b=pair, label=gold))
        return examples

    files = {split: str(Path(p).resolve()) for split, p in opts.custom_files().items()}
    metric = opts.metric or ("pearson" if regression else None)
    return TaskSpec(CUSTOM, "regression" if regression else "classification", files, read,
                    _metrics(metric, len(labels)), "predictions.jsonl", labels=labels)


def check_custom_options(opts: CustomTaskOptions, task: str, need: tuple[str, ...]) -> None:
    """``--task custom`` has the files it needs; another task has none of the custom flags."""
    if task == CUSTOM:
        missing = [SPLIT_FLAGS[s] for s in need if not getattr(opts, s)]
        if missing:
            raise BortError(f"--task custom needs {' and '.join(missing)} FILE")
        return
    given = [SPLIT_FLAGS[s] for s in SPLIT_FLAGS if getattr(opts, s)]
    if given:
        raise BortError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --task custom only; "
                        f"{task} reads its official files from --data")


def resolve_task(cfg, model_config=None) -> TaskSpec:
    """``cfg.task`` as a TaskSpec: one of the registered benchmarks' tasks by name, or (``custom``) the user's files,
    with the classes of the training file or, given a fine-tuned model's config, the model's own."""
    if cfg.task == CUSTOM:
        if model_config is None:
            return custom_task(cfg)
        labels = model_labels(model_config)
        return custom_task(cfg, labels, regression=labels is None)
    from bort.tasks.registry import get_task

    return get_task(cfg.task)
