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
