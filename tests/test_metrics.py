"""Each metric against scikit-learn / scipy or a hand computation."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from bort.tasks import metrics as M

RNG = np.random.default_rng(0)
GOLD = RNG.integers(0, 2, 200)
PRED = np.where(RNG.random(200) < 0.7, GOLD, 1 - GOLD)


def test_classification_metrics_match_sklearn():
    assert M.accuracy(GOLD, PRED) == pytest.approx(accuracy_score(GOLD, PRED))
    assert M.mcc(GOLD, PRED) == pytest.approx(matthews_corrcoef(GOLD, PRED))
    assert M.f1(GOLD, PRED) == pytest.approx(f1_score(GOLD, PRED))
    three_gold, three_pred = RNG.integers(0, 3, 90), RNG.integers(0, 3, 90)
    assert M.macro_f1(three_gold, three_pred) == pytest.approx(f1_score(three_gold, three_pred, average="macro"))
    assert M.mcc(three_gold, three_pred) == pytest.approx(matthews_corrcoef(three_gold, three_pred))


def test_f1_by_hand():
    # tp=2, fp=1, fn=1 → precision 2/3, recall 2/3, F1 2/3
    assert M.f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(2 / 3)


def test_correlations_match_scipy():
    x = RNG.random(50) * 5
    y = x + RNG.normal(0, 1, 50)
    assert M.pearson(x, y) == pytest.approx(pearsonr(x, y)[0])
    assert M.spearman(x, y) == pytest.approx(spearmanr(x, y)[0])
    assert M.pearson(x, np.ones(50)) == 0.0  # constant predictions: no correlation, not NaN


def test_multirc_exact_match_by_hand():
    groups = ["q1", "q1", "q2", "q2", "q3"]
    gold = [1, 0, 1, 1, 0]
    pred = [1, 0, 1, 0, 0]
    assert M.multirc_em(groups, gold, pred) == pytest.approx(2 / 3)  # q1 and q3 fully right


def test_record_normalisation_and_scores():
    assert M.normalize_answer("The  J.K. Rowling!") == "jk rowling"
    assert M.token_f1("J.K. Rowling", "Rowling") == pytest.approx(2 * 0.5 * 1 / 1.5)
    scores = M.record_scores(["Rowling", "Paris"], [["J.K. Rowling", "Rowling"], ["London"]])
    assert scores == {"f1": pytest.approx(0.5), "em": pytest.approx(0.5)}  # max over gold answers


def test_gender_parity_by_hand():
    assert M.gender_parity([1, 1, 2, 2, 3, 3], [0, 0, 1, 0, 1, 1]) == pytest.approx(2 / 3)
