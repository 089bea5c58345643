"""The official metrics of GLUE, SuperGLUE and RACE."""

from __future__ import annotations

import collections
import re
import string

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef


def accuracy(gold, pred) -> float:
    gold, pred = np.asarray(gold), np.asarray(pred)
    return float((gold == pred).mean())


def mcc(gold, pred) -> float:
    """Matthews correlation (multiclass R_K for three labels, as GLUE's AX)."""
    return float(matthews_corrcoef(gold, pred))


def f1(gold, pred) -> float:
    """F1 of the positive class (label 1)."""
    return float(f1_score(gold, pred, pos_label=1, average="binary", zero_division=0))


def macro_f1(gold, pred) -> float:
    """Unweighted mean of the per-class F1 (CB)."""
    return float(f1_score(gold, pred, average="macro", zero_division=0))


def pearson(gold, pred) -> float:
    return float(pearsonr(gold, pred)[0]) if np.std(pred) > 0 else 0.0


def spearman(gold, pred) -> float:
    return float(spearmanr(gold, pred)[0]) if np.std(pred) > 0 else 0.0


def multirc_em(groups: list[str], gold, pred) -> float:
    """Share of questions whose every answer option is judged right."""
    right = collections.defaultdict(lambda: True)
    for g, y, p in zip(groups, gold, pred):
        right[g] &= bool(y == p)
    return float(np.mean(list(right.values())))


def normalize_answer(text: str) -> str:
    """ReCoRD's (SQuAD's) normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def record_scores(predictions: list[str], answers: list[list[str]]) -> dict[str, float]:
    """Token F1 and exact match, each the max over a question's gold answers, averaged over questions."""
    f1s = [max((token_f1(p, g) for g in golds), default=0.0) for p, golds in zip(predictions, answers)]
    ems = [max((float(normalize_answer(p) == normalize_answer(g)) for g in golds), default=0.0)
           for p, golds in zip(predictions, answers)]
    return {"f1": float(np.mean(f1s)), "em": float(np.mean(ems))}


def gender_parity(hypotheses: list[str], pred) -> float:
    """AX-g (Winogender): the share of minimal pairs whose two predictions agree.

    The pairs are consecutive rows (0 and 1, 2 and 3, ...) that differ only in the pronoun of the
    premise and share the hypothesis, as the official scorer (jiant's ``GenderParity``) pairs them;
    the file's ``pair_id`` differs within a pair, so it cannot group them.
    """
    if len(hypotheses) % 2:
        raise ValueError(f"gender parity needs minimal pairs: got an odd number of examples ({len(hypotheses)})")
    for k in range(0, len(hypotheses), 2):
        if hypotheses[k] != hypotheses[k + 1]:
            raise ValueError(f"gender parity: rows {k} and {k + 1} are not a minimal pair (their hypotheses differ)")
    pred = [int(p) for p in pred]
    return float(np.mean([pred[k] == pred[k + 1] for k in range(0, len(pred), 2)]))
