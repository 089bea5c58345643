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
    assert M.spearman(x, np.ones(50)) == 0.0
    small = y / 20  # a spread well below 1 is still a spread
    assert np.std(small) < 1
    assert M.pearson(x, small) == pytest.approx(pearsonr(x, small)[0])
    assert M.spearman(x, small) == pytest.approx(spearmanr(x, small)[0])


def test_f1_without_positive_predictions_or_gold_is_zero():
    assert M.f1([0, 0, 1], [0, 0, 0]) == 0.0
    assert M.f1([0, 0, 0], [0, 0, 0]) == 0.0
    assert M.macro_f1([0, 0, 0], [0, 0, 0]) == 1.0  # the one class present is perfect
    assert M.macro_f1([0, 1, 2], [0, 0, 0]) == pytest.approx((0.5 + 0 + 0) / 3)


def test_multirc_exact_match_by_hand():
    groups = ["q1", "q1", "q2", "q2", "q3"]
    gold = [1, 0, 1, 1, 0]
    pred = [1, 0, 1, 0, 0]
    assert M.multirc_em(groups, gold, pred) == pytest.approx(2 / 3)  # q1 and q3 fully right
    # unequal question sizes: q1 (3 options) right, q2 (1 option) wrong, q3 (2 options) right
    assert M.multirc_em(["q1", "q1", "q1", "q2", "q3", "q3"], [1, 0, 0, 1, 0, 1], [1, 0, 0, 0, 0, 1]) \
        == pytest.approx(2 / 3)
    assert M.multirc_em(["q1", "q2", "q2", "q2"], [1, 1, 0, 1], [1, 0, 0, 1]) == pytest.approx(1 / 2)


def test_multirc_exact_match_against_a_brute_force_count():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 6, 120)
    groups = [f"p{q // 10}-q{q}" for q, n in enumerate(sizes) for _ in range(n)]
    gold = rng.integers(0, 2, len(groups))
    pred = np.where(rng.random(len(groups)) < 0.85, gold, 1 - gold)
    questions = sorted(set(groups))
    right = [all(g == p for q2, g, p in zip(groups, gold, pred) if q2 == q) for q in questions]
    assert M.multirc_em(groups, gold, pred) == pytest.approx(sum(right) / len(questions))


def test_record_normalisation_and_scores():
    assert M.normalize_answer("The  J.K. Rowling!") == "jk rowling"
    assert M.token_f1("J.K. Rowling", "Rowling") == pytest.approx(2 * 0.5 * 1 / 1.5)
    scores = M.record_scores(["Rowling", "Paris"], [["J.K. Rowling", "Rowling"], ["London"]])
    assert scores == {"f1": pytest.approx(0.5), "em": pytest.approx(0.5)}  # max over gold answers
    # a query without gold answers scores 0 (the official script skips none)
    assert M.record_scores(["Rowling", "x"], [["Rowling"], []]) == {"f1": pytest.approx(0.5), "em": pytest.approx(0.5)}


def test_gender_parity_pairs_consecutive_rows():
    hypotheses = ["h1", "h1", "h2", "h2", "h3", "h3"]
    assert M.gender_parity(hypotheses, [0, 0, 1, 0, 1, 1]) == pytest.approx(2 / 3)
    assert M.gender_parity(hypotheses, [0, 1, 1, 0, 0, 1]) == 0.0
    with pytest.raises(ValueError, match="rows 2 and 3 are not a minimal pair"):
        M.gender_parity(["h1", "h1", "h2", "h3"], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="odd number"):
        M.gender_parity(["h1"], [0])
