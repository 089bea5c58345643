import pytest

from bort.architecture import PAPER_SPACE, Arch, SearchSpace, count_params
from bort.errors import BortError


def test_parse_round_trip():
    arch = Arch.parse("4,8,1024,768")
    assert arch == Arch(4, 8, 1024, 768)
    assert arch.as_list() == [4, 8, 1024, 768]
    assert arch.head_dim == 128
    assert Arch.parse("⟨4, 8, 1024, 768⟩") == arch


@pytest.mark.parametrize("text", ["4,8,1024", "4,8,1024,768,1", "a,b,c,d", "4,-8,1024,768", "", "4,8,10.5,768"])
def test_parse_rejects_malformed(text):
    with pytest.raises(BortError, match="D,A,H,I"):
        Arch.parse(text)


def test_hidden_must_divide_by_heads():
    with pytest.raises(BortError, match="not divisible"):
        Arch(4, 7, 1024, 768)


@pytest.mark.parametrize("fields", [(0, 8, 1024, 768), (4, 0, 1024, 768), (4, 8, 1024, 0), (True, 8, 1024, 768)])
def test_sizes_must_be_positive_integers(fields):
    with pytest.raises(BortError, match="positive integer"):
        Arch(*fields)


def test_arch_is_hashable_and_frozen():
    a = Arch(2, 4, 64, 128)
    assert {a: 1}[Arch(2, 4, 64, 128)] == 1
    with pytest.raises(Exception):
        a.depth = 3


def test_paper_space_has_300_valid_tuples_sorted_by_params():
    candidates = PAPER_SPACE.candidates()
    assert len(candidates) == 300  # 360 tuples; only A=12 with H=512 or 1024 is invalid
    assert len(set(candidates)) == 300
    assert all(a.hidden % a.heads == 0 and a.depth % 2 == 0 for a in candidates)
    counts = [count_params(a).total for a in candidates]
    assert counts == sorted(counts)
    assert Arch(12, 12, 768, 3072) in candidates  # BERT-base is in the paper's space
    assert Arch(4, 8, 1024, 768) in candidates  # and so is Bort


def test_even_depth_option():
    space = SearchSpace(depths=[1, 2, 3, 4], heads=[2], hiddens=[8], intermediates=[16])
    assert [a.depth for a in space.candidates()] == [1, 2, 3, 4]
    even = SearchSpace(depths=[1, 2, 3, 4], heads=[2], hiddens=[8], intermediates=[16], even_depth=True)
    assert [a.depth for a in even.candidates()] == [2, 4]


def test_space_with_no_valid_tuple_is_an_error():
    with pytest.raises(BortError, match="no valid architecture"):
        SearchSpace(depths=[2], heads=[3], hiddens=[8], intermediates=[16]).candidates()


def test_space_from_dict_validates_fields():
    space = SearchSpace.from_dict({"depths": [2], "heads": [2, 4], "hiddens": [8], "intermediates": [16, 32]})
    assert len(space) == 4
    assert SearchSpace.from_dict(space.to_dict()) == space
    with pytest.raises(BortError, match="missing field"):
        SearchSpace.from_dict({"depths": [2]})
    with pytest.raises(BortError, match="unknown field"):
        SearchSpace.from_dict({**space.to_dict(), "widths": [1]})
    with pytest.raises(BortError, match="positive integers"):
        SearchSpace.from_dict({**space.to_dict(), "heads": []})
