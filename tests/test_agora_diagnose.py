"""Agora's diagnostics and its new-point filters, and the paired bootstrap that compares it with plain
fine-tuning: each against a hand computation or scikit-learn."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from bort.agora import diagnose
from bort.tasks import get_task
from bort.tasks.paired import paired_bootstrap, score_rows


def test_token_edit_distance_counts_word_edits():
    d = diagnose.token_edit_distance
    assert d("a charming and often affecting journey", "a charming and often affecting journey") == 0
    assert d("a charming and often affecting journey", "a charming and deeply affecting journey") == 1  # substitution
    assert d("a charming and often affecting journey", "a charming often affecting journey") == 1  # deletion
    assert d("a b c", "b c a") == 2
    assert d("", "one two") == 2 and d("one two", "") == 2


def test_collapse_is_one_label_on_95_percent_of_e():
    task = get_task("glue/SST-2")
    outputs = np.zeros((100, 2))
    outputs[:96, 1] = 1  # 96 positive, 4 negative
    shares = diagnose.prediction_shares(task, [None] * 100, outputs)
    assert shares == {"0": 0.04, "1": 0.96} and diagnose.collapsed(shares)
    outputs[:10, 1], outputs[:10, 0] = 0, 1
    assert not diagnose.collapsed(diagnose.prediction_shares(task, [None] * 100, outputs))
    assert diagnose.prediction_shares(get_task("glue/STS-B"), [None] * 3, np.zeros((3, 1))) is None


def test_additions_summary_recomputed_by_hand():
    task = get_task("glue/SST-2")
    points = [
        {"source_text": "a fine film", "text_a": "a fine movie", "text_b": None, "segment": "text_a", "label": 1,
         "source_label": 1, "confidence": 0.9},
        {"source_text": "a dull film", "text_a": "a dull dull film", "text_b": None, "segment": "text_a", "label": 1,
         "source_label": 0, "confidence": 0.6},
        {"source_text": "not good at all", "text_a": "not bad at all", "text_b": None, "segment": "text_a",
         "label": 1, "source_label": 0, "confidence": 0.7},
    ]
    summary = diagnose.additions_summary(task, points)
    assert summary["labels"] == {"0": 0, "1": 3}
    assert summary["socrates_keeps_source_label"] == pytest.approx(1 / 3)
    assert summary["mean_confidence"] == pytest.approx(0.7333333)
    assert summary["edit_distance_mean"] == pytest.approx(1.0) and summary["edit_distance_median"] == 1.0
    assert len(diagnose.sample_pairs(points, 10, 0)) == 3
    assert diagnose.sample_pairs(points, 2, 5) == diagnose.sample_pairs(points, 2, 5)  # seeded


def test_regression_labels_agree_when_they_round_alike():
    task = get_task("glue/STS-B")
    assert diagnose.agrees(task, 3.4, 2.6) and not diagnose.agrees(task, 3.6, 3.4)


@pytest.mark.parametrize("balance", [False, True])
def test_new_points_filtered_by_confidence_and_label_proportions(balance):
    from types import SimpleNamespace

    from bort.agora.points import filter_points
    from bort.tasks.example import Example

    cfg = SimpleNamespace(min_confidence=0.6, keep_label_balance=balance, max_added_share=None)
    task = get_task("glue/CoLA")
    train = [Example(uid=i, text_a="x", label=label) for i, label in enumerate([1] * 70 + [0] * 30)]  # 70% label 1
    records = ([{"label": 1, "confidence": 0.9}] * 50 + [{"label": 0, "confidence": 0.9}] * 10
               + [{"label": 0, "confidence": 0.55}] * 40)  # the last 40 below --min-confidence
    kept = filter_points(cfg, task, train, records, random.Random(0))
    labels = [records[i]["label"] for i in kept]
    assert all(records[i]["confidence"] >= 0.6 for i in kept)
    if not balance:
        assert len(kept) == 60
    else:  # 10 confident label-0 points allow 10 / 0.3 = 33 in all: 23 of label 1, 10 of label 0
        assert labels.count(0) == 10 and labels.count(1) == 23
    cfg.max_added_share = 0.2  # at most 20 points: a fifth of the 100 training examples
    capped = filter_points(cfg, task, train, records, random.Random(0))
    assert len(capped) == 20 and all(records[i]["confidence"] >= 0.6 for i in capped)


@pytest.mark.parametrize("metric", ["accuracy", "f1", "mcc"])
def test_vectorised_binary_metrics_equal_scikit_learns(metric):
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, size=(50, 40))
    pred = rng.integers(0, 2, size=(50, 40))
    gold[0], pred[0] = 1, 1  # degenerate rows: one class everywhere
    pred[1] = 0
    reference = {"accuracy": accuracy_score, "mcc": matthews_corrcoef,
                 "f1": lambda g, p: f1_score(g, p, zero_division=0)}[metric]
    assert np.allclose(score_rows(metric, gold, pred), [reference(g, p) for g, p in zip(gold, pred)])


def test_paired_bootstrap_difference_and_interval():
    rng = np.random.default_rng(1)
    runs = []
    for _ in range(3):
        gold = rng.integers(0, 2, 300)
        b = np.where(rng.random(300) < 0.75, gold, 1 - gold)  # B right on 75%
        a = b.copy()
        wrong = np.flatnonzero(a != gold)
        a[wrong[: len(wrong) // 5]] = gold[wrong[: len(wrong) // 5]]  # A fixes a fifth of B's mistakes, breaks none
        runs.append((gold, a, b))
    result = paired_bootstrap("accuracy", runs, resamples=1000)
    by_hand = np.mean([(a == g).mean() - (b == g).mean() for g, a, b in runs])
    assert result.difference == pytest.approx(by_hand)
    assert result.low <= result.difference <= result.high and result.excludes_zero() and result.low > 0
    assert result.seeds == 3 and result.examples == 900
    # Pairing: the same ~5-point gain is not separable from 0 when A and B err on unrelated examples.
    unpaired = [(g, a, np.where(rng.random(300) < 0.75, g, 1 - g)) for g, a, _ in runs]
    loose = paired_bootstrap("accuracy", unpaired, resamples=1000)
    assert (loose.high - loose.low) > 2 * (result.high - result.low)
    same = paired_bootstrap("mcc", [(g, b, b) for g, _, b in runs], resamples=200)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0) and not same.excludes_zero()


def test_grouped_metrics_are_refused_by_the_per_example_bootstrap():
    gold = np.array([[0, 1, 1]])
    with pytest.raises(ValueError, match="groups"):
        score_rows("multirc_em", gold, gold)
