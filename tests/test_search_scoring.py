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
    (tmp_path / "s.yaml").write_text("depths: [2, 4]\nheads: [4]\nhiddens: [64]\nintermediates: [128, 256]\n"
                                     "even_depth: true\n")
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


def test_candidates_with_overlapping_latency_intervals_are_flagged(tmp_path):
    """Overlapping î intervals: a tie, named by rank in ranking.csv and report.md, and as pairs for the summary."""
    import csv

    from bort.architecture.hf_config import roberta_config
    from bort.search.config import SearchConfig
    from bort.search.report import rank, tied_pairs, tied_with_best, write_reports

    records = {
        "a": {"arch": [1, 2, 32, 64], "p": 10, "latency": 1.0, "latency_interval": [0.9, 1.1], "error": 1.0, "W": 0.5,
              "W_interval": [0.45, 0.55]},
        "b": {"arch": [1, 2, 32, 128], "p": 20, "latency": 1.15, "latency_interval": [1.05, 1.2], "error": 1.0,
              "W": 0.4, "W_interval": [0.38, 0.46]},
        "c": {"arch": [2, 2, 32, 64], "p": 30, "latency": 1.3, "latency_interval": [1.21, 1.4], "error": 1.0, "W": 0.3,
              "W_interval": [0.25, 0.44]},
        "d": {"arch": [2, 2, 32, 128], "p": 40, "latency": 2.0, "latency_interval": None, "error": 1.0, "W": 0.2,
              "W_interval": None},
    }
    rows = rank(list(records.values()))
    # a–b overlap (1.05 ≤ 1.1), b–c do not (1.2 < 1.21); no interval (FLOPs, an older log): never a tie
    assert [r["latency_ties"] for r in rows] == [[2], [1], [], []]
    assert tied_pairs(list(records.values())) == [["1,2,32,64", "1,2,32,128"]]
    # b's W interval reaches a's (0.46 ≥ 0.45); c's stops below it
    assert tied_with_best(list(records.values())) == ["1,2,32,128"]

    cfg = SearchConfig(teacher="T", corpus=["c.txt"], out=str(tmp_path))
    summary = dict(latency_unit="ms", p_T=100, latency_T=10.0, candidates_in_space=4, candidates_kept=4,
                   trained_this_run=4, latency_seconds=1.0, teacher_seconds=1.0, training_seconds=1.0,
                   total_seconds=3.0, device=None, latency_rounds=7)
    write_reports(cfg, tmp_path, records, roberta_config(Arch(4, 4, 64, 128)), summary)
    with open(tmp_path / "ranking.csv") as f:
        ranking = list(csv.DictReader(f))
    assert [r["latency_ties"] for r in ranking] == ["2", "1", "", ""]
    assert ranking[0]["latency_low"] == "0.9" and ranking[3]["latency_low"] == ""
    report = (tmp_path / "report.md").read_text()
    assert "1 of the 3 pairs of candidates have overlapping 95% intervals" in report
    assert "Tied with the best within î's noise (W intervals overlap): ⟨1,2,32,128⟩." in report


def test_rescoring_takes_each_latency_and_its_interval_into_w():
    """î and its interval come from this run's latencies; W's interval is W at î's slow end and at its fast end."""
    from bort.search.runner import rescored

    records = {"2,2,32,64": {"arch": [2, 2, 32, 64], "p": 40, "latency": 9.9, "error": 2.0, "W": 0.0},
               "1,2,32,64": {"arch": [1, 2, 32, 64], "p": 20, "latency": 9.9, "error": 4.0, "W": 0.0}}
    latencies = {"T": {"value": 10.0}, "2,2,32,64": {"value": 4.0, "low": 3.0, "high": 5.0},
                 "1,2,32,64": {"value": 2.0}}  # an older log: no interval
    out = rescored(records, latencies, 100, 10.0)
    a, b = out["2,2,32,64"], out["1,2,32,64"]
    assert a["latency"] == 4.0 and a["W"] == pytest.approx((1 - 0.4) * (1 - 0.4) / 2.0)
    assert a["latency_interval"] == [3.0, 5.0]
    assert a["W_interval"] == pytest.approx([(1 - 0.4) * (1 - 0.5) / 2.0, (1 - 0.4) * (1 - 0.3) / 2.0])
    assert b["W"] == pytest.approx((1 - 0.2) * (1 - 0.2) / 4.0) and b["W_interval"] is None
