"""From a model's outputs to a task's predictions, its scores and its leaderboard rows."""

from __future__ import annotations

import collections

import numpy as np

from bort.tasks import metrics as M
from bort.tasks.example import Example
from bort.tasks.spec import TaskSpec


def choose(examples: list[Example], outputs: np.ndarray) -> dict[str, Example]:
    """For each question (group), the option the model scores highest: P(1) via logit margin."""
    margin = outputs[:, 1] - outputs[:, 0]
    best: dict[str, tuple[float, Example]] = {}
    for ex, m in zip(examples, margin):
        if ex.group not in best or m > best[ex.group][0]:
            best[ex.group] = (float(m), ex)
    return {g: ex for g, (_, ex) in best.items()}


def predictions(task: TaskSpec, examples: list[Example], outputs: np.ndarray) -> list:
    """Per example: a class index (classification, multirc) or a value (regression); for choice
    tasks, 1 for the option chosen in its question and 0 for the others."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if task.kind == "regression":
        return outputs[:, 0].tolist()
    if task.kind == "choice":
        chosen = {id(ex) for ex in choose(examples, outputs).values()}
        return [int(id(ex) in chosen) for ex in examples]
    return outputs.argmax(-1).tolist()


def score(task: TaskSpec, examples: list[Example], outputs: np.ndarray) -> dict[str, float]:
    """Every metric of ``task`` on labelled ``examples``."""
    pred = predictions(task, examples, outputs)
    gold = [ex.label for ex in examples]
    if task.kind == "regression":
        return {"pearson": M.pearson(gold, pred), "spearman": M.spearman(gold, pred)}
    if task.kind == "multirc":
        return {"f1a": M.f1(gold, pred), "em": M.multirc_em([ex.group for ex in examples], gold, pred)}
    if task.kind == "choice":
        chosen = choose(examples, np.asarray(outputs, dtype=np.float64))
        if task.name == "superglue/ReCoRD":
            return M.record_scores([ex.meta["entity"] for ex in chosen.values()],
                                   [ex.meta["answers"] for ex in chosen.values()])
        return {"accuracy": float(np.mean([ex.label == 1 for ex in chosen.values()]))}
    out = {}
    for name in task.metrics:
        if name == "gender_parity":
            out[name] = M.gender_parity([ex.text_b for ex in examples], pred)
        else:
            out[name] = getattr(M, name)(gold, pred)
    return out


def majority_baseline(task: TaskSpec, train: list[Example], dev: list[Example]) -> dict[str, float]:
    """The metrics of always predicting the training set's most frequent label (its mean, for regression)."""
    if task.kind == "regression":
        return {"pearson": 0.0, "spearman": 0.0}
    majority = collections.Counter(ex.label for ex in train).most_common(1)[0][0]
    outputs = np.zeros((len(dev), task.num_labels))
    outputs[:, majority] = 1.0  # for choice tasks every option then ties, and the first of each question is chosen
    return score(task, dev, outputs)


def submission_records(task: TaskSpec, examples: list[Example], outputs: np.ndarray) -> list:
    """The rows the leaderboard expects for ``task``: (index, prediction) for GLUE, dicts for the rest."""
    pred = predictions(task, examples, outputs)
    names = task.submission_labels or task.labels
    if task.benchmark == "custom":  # the user's own file: each row's number in it, its text, the prediction
        key = "value" if task.kind == "regression" else "label"
        return [{"row": ex.uid + 1, "text": ex.text_a, **({"text_pair": ex.text_b} if ex.text_b is not None else {}),
                 key: p if task.kind == "regression" else names[p]} for ex, p in zip(examples, pred)]
    if task.benchmark == "glue":
        if task.kind == "regression":
            return [(ex.uid, f"{min(5.0, max(0.0, p)):.3f}") for ex, p in zip(examples, pred)]
        return [(ex.uid, names[p]) for ex, p in zip(examples, pred)]
    if task.kind == "classification":
        return [{"idx": _int(ex.uid), "label": names[p]} for ex, p in zip(examples, pred)]
    if task.kind == "multirc":
        nested: dict = collections.defaultdict(lambda: collections.defaultdict(list))
        for ex, p in zip(examples, pred):
            nested[ex.meta["passage"]][ex.meta["question"]].append({"idx": ex.meta["answer"], "label": int(p)})
        return [{"idx": pid, "passage": {"questions": [{"idx": qid, "answers": answers}
                                                       for qid, answers in qs.items()]}}
                for pid, qs in nested.items()]
    chosen = choose(examples, np.asarray(outputs, dtype=np.float64))
    if task.name == "superglue/COPA":
        return [{"idx": _int(g), "label": ex.meta["option"]} for g, ex in chosen.items()]
    if task.name == "superglue/ReCoRD":
        return [{"idx": _int(g), "label": ex.meta["entity"]} for g, ex in chosen.items()]
    return [{"id": g, "label": ex.meta["letter"]} for g, ex in chosen.items()]  # RACE


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
