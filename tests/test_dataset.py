import numpy as np
import pytest

from bort.errors import BortError
from bort.mlm import dataset
from bort.mlm.corpus import resolve_corpus
from bort.mlm.dataset import build_splits, pack, split_documents, tokenize_corpus
from bort.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def test_pack_hand_example():
    ids = np.arange(10, 53, dtype=np.int32)  # doc 0: 10..49 (40 tokens), doc 1: 50..52 (3 tokens)
    offsets = np.array([0, 40, 43])
    split = pack(ids, offsets, np.array([0, 1]), seq_len=20, bos=0, eos=2, pad=1)
    # doc 0 → 18 + 18 body tokens, its 4-token tail dropped; doc 1 → 3 tokens (a short first piece is kept)
    assert split.lengths.tolist() == [20, 20, 5]
    assert split.ids[0].tolist() == [0] + list(range(10, 28)) + [2]
    assert split.ids[1].tolist() == [0] + list(range(28, 46)) + [2]
    assert split.ids[2].tolist() == [0, 50, 51, 52, 2] + [1] * 15
    batch = split.batch([2, 0])
    assert batch["attention_mask"].tolist()[0] == [1] * 5 + [0] * 15


def test_split_by_document_is_seeded_and_disjoint():
    train, val = split_documents(100, 0.1, seed=3)
    assert len(val) == 10 and not set(train) & set(val) and len(train) + len(val) == 100
    assert np.array_equal(split_documents(100, 0.1, seed=3)[1], val)
    assert not np.array_equal(split_documents(100, 0.1, seed=4)[1], val)
    with pytest.raises(BortError, match="at least 2"):
        split_documents(1, 0.1, seed=0)


def test_real_corpus_splits_and_cache(shared_data, tokenizer, tmp_path, monkeypatch):
    files = resolve_corpus([str(shared_data / "text" / "gutenberg" / "120-0.txt")])
    train, val = build_splits(files, tokenizer, 128, tmp_path, val_fraction=0.1, seed=0)
    assert len(train) > 10 * len(val) / 2 and len(val) > 0
    for split in (train, val):
        assert (split.ids[:, 0] == 0).all() and split.lengths.max() <= 128
        rows = np.arange(len(split))
        assert (split.ids[rows, split.lengths - 1] == 2).all()
        assert all((split.ids[i, split.lengths[i]:] == 1).all() for i in range(len(split)))
    assert len(list(tmp_path.glob("tokens-*.npz"))) == 1

    # A second call reads the cache: tokenizing again would fail here.
    monkeypatch.setattr(dataset, "documents", lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-tokenized")))
    again, _ = build_splits(files, tokenizer, 128, tmp_path, val_fraction=0.1, seed=0)
    assert np.array_equal(again.ids, train.ids)


def test_cache_is_keyed_by_tokenizer(shared_data, tmp_path):
    tokenizer = load_tokenizer()  # a private copy: this test changes it
    files = resolve_corpus([str(shared_data / "text" / "wikitext-2" / "wiki.valid.tokens")])
    tokenize_corpus(files, tokenizer, tmp_path)
    tokenizer.add_tokens(["<extra-token>"])
    tokenize_corpus(files, tokenizer, tmp_path)
    assert len(list(tmp_path.glob("tokens-*.npz"))) == 2


def test_empty_corpus_is_an_error(tmp_path, tokenizer):
    (tmp_path / "empty.txt").write_text("\n\n   \n")
    with pytest.raises(BortError, match="holds no text"):
        tokenize_corpus(resolve_corpus([str(tmp_path / "empty.txt")]), tokenizer, tmp_path / "cache")
