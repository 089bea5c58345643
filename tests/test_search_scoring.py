import json

import pytest

from bort.architecture import Arch
from bort.architecture.counting import Vocab
from bort.errors import BortError
from bort.search.runner import kept_candidates
from bort.search.scoring import pareto_front, w_coefficient
from bort.search.spaces import load_space


def test_w_coefficient_hand_values():
    assert w_coefficient(25, 2, 0.5, 100, 10) == pytest.approx(0.75 * 0.8 / 0.5)
    # the paper's Table 1 order of magnitude: Bort-sized vs RoBERTa-large on CPU
    assert w_coefficient(56.14, 0.308, 0.093, 355, 6.170) == pytest.approx(8.6, abs=0.1)


def test_bigger_or_slower_than_the_teacher_is_never_positive():
    assert w_coefficient(120, 2, 0.5, 100, 10) < 0  # bigger
    assert w_coefficient(50, 12, 0.5, 100, 10) < 0  # slower
    assert w_coefficient(120, 12, 0.5, 100, 10) < 0  # both: the raw product would be positive
    assert w_coefficient(100, 5, 0.5, 100, 10) == 0


def test_pareto_front_hand_example():
    points = [(1, 5, 5), (2, 2, 2), (3, 3, 3), (1, 5, 6), (5, 1, 9)]
    # (3,3,3) is dominated by (2,2,2); (1,5,6) by (1,5,5)
    assert pareto_front(points) == [True, True, False, False, True]


def test_paper_preset_schedules_all_300_with_epsilon_1():
    space = load_space("paper", Vocab())
    kept = kept_candidates(space, 1)
    assert len(kept) == 300 and len(set(kept)) == 300
    assert Arch(4, 8, 1024, 768) in kept
    every_third = kept_candidates(space, 3)
    assert every_third == kept[::3] and len(every_third) == 100


def test_space_files_yaml_and_json(tmp_path):
    (tmp_path / "s.yaml").write_text("depths: [2, 4]\nheads: [4]\nhiddens: [64]\nintermediates: [128, 256]\neven_depth: true\n")
    assert len(load_space(str(tmp_path / "s.yaml"), Vocab()).candidates()) == 4
    (tmp_path / "s.json").write_text(json.dumps({"depths": [1], "heads": [3], "hiddens": [64], "intermediates": [8]}))
    with pytest.raises(BortError, match="no valid architecture"):
        load_space(str(tmp_path / "s.json"), Vocab()).candidates()
    (tmp_path / "bad.yaml").write_text("depths: [1\n")
    with pytest.raises(BortError, match="cannot parse"):
        load_space(str(tmp_path / "bad.yaml"), Vocab())
    with pytest.raises(BortError, match="neither a preset"):
        load_space("no-such-space", Vocab())


def test_zero_error_gives_infinite_w_not_a_division_by_zero():
    assert w_coefficient(25, 2, 0.0, 100, 10) == float("inf")
    assert w_coefficient(120, 2, 0.0, 100, 10) == float("-inf")


def test_diverged_candidates_are_listed_last_without_w_and_never_best(tmp_path):
    """ê NaN or inf: no W, off the Pareto front, after every finite candidate, named in the report."""
    import csv
    import math

    from bort.architecture.hf_config import roberta_config
    from bort.search.config import SearchConfig
    from bort.search.report import rank, write_reports

    nan, inf = float("nan"), float("inf")
    records = {
        "a": {"arch": [1, 2, 32, 64], "p": 10, "latency": 1.0, "error": nan, "W": None},
        "b": {"arch": [1, 2, 32, 128], "p": 20, "latency": 2.0, "error": 3.0, "W": 0.2},
        "c": {"arch": [2, 2, 32, 64], "p": 30, "latency": 3.0, "error": inf, "W": None},
        "d": {"arch": [2, 2, 32, 128], "p": 40, "latency": 4.0, "error": 2.0, "W": 0.1},
    }
    rows = rank(list(records.values()))
    assert [r["arch"] for r in rows] == [[1, 2, 32, 128], [2, 2, 32, 128], [1, 2, 32, 64], [2, 2, 32, 64]]
    assert [r["pareto"] for r in rows] == [True, True, False, False]

    cfg = SearchConfig(teacher="T", corpus=["c.txt"], out=str(tmp_path))
    summary = dict(latency_unit="ms", p_T=100, latency_T=10.0, candidates_in_space=4, candidates_kept=4,
                   trained_this_run=4, latency_seconds=1.0, teacher_seconds=1.0, training_seconds=1.0,
                   total_seconds=3.0, device=None)
    best = write_reports(cfg, tmp_path, records, roberta_config(Arch(4, 4, 64, 128)), summary)
    assert best["arch"] == [1, 2, 32, 128] and math.isfinite(best["W"])
    with open(tmp_path / "ranking.csv") as f:
        ranking = list(csv.DictReader(f))
    assert [r["W"] for r in ranking][2:] == ["", ""] and [r["pareto"] for r in ranking] == ["1", "1", "0", "0"]
    assert "Diverged (ê not finite, no W, not ranked): ⟨1,2,32,64⟩, ⟨2,2,32,64⟩" in (tmp_path / "report.md").read_text()

    for record in records.values():
        record.update(error=nan, W=None)
    with pytest.raises(BortError, match="every candidate diverged"):
        write_reports(cfg, tmp_path, records, roberta_config(Arch(4, 4, 64, 128)), summary)
