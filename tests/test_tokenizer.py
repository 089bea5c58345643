import json

import pytest

from bort.errors import BortError
from bort.tokenizer import DEFAULT_TOKENIZER_DIR, load_tokenizer
from bort.tokenizer.build import build, roberta_vocab


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def test_reference_encodings(tokenizer):
    assert tokenizer("Hello world")["input_ids"] == [0, 31414, 232, 2]
    assert tokenizer("The quick brown fox jumps over the lazy dog.")["input_ids"] == [
        0, 133, 2119, 6219, 23602, 13855, 81, 5, 22414, 2335, 4, 2]


def test_special_tokens_and_size(tokenizer):
    assert len(tokenizer) == 50265
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) \
        == (0, 1, 2, 3)
    assert tokenizer.mask_token_id == 50264
    # <mask> absorbs the space before it, as in RoBERTa.
    assert tokenizer("Paris is <mask>.")["input_ids"][-3:] == [50264, 4, 2]
    # A pair is <s> A </s></s> B </s>.
    assert tokenizer("a", "b")["input_ids"] == [0, 102, 2, 2, 428, 2]


def test_round_trip(tokenizer):
    text = "It was the best of times, it was the worst of times — naïve café."
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text


def test_vocab_indexing_rule():
    encoder = {"a": 0, "b": 1, "c": 2}
    vocab = roberta_vocab(encoder, ["2 100", "0 50", "madeupword0000 0"])
    assert vocab == {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "c": 4, "a": 5, "madeupword0000": 6, "<mask>": 7}
    with pytest.raises(BortError, match="line 1"):
        roberta_vocab(encoder, ["2"])


def test_shipped_tokenizer_is_what_the_build_makes(shared_data, tmp_path):
    out = build(shared_data / "bpe" / "gpt2_bpe", shared_data / "bpe" / "roberta" / "dict.txt", tmp_path / "tok")
    built = json.loads((out / "tokenizer.json").read_text())
    shipped = json.loads((DEFAULT_TOKENIZER_DIR / "tokenizer.json").read_text())
    assert built["model"]["vocab"] == shipped["model"]["vocab"]
    assert built["model"]["merges"] == shipped["model"]["merges"]
    assert len(built["model"]["merges"]) == 50000
    assert (DEFAULT_TOKENIZER_DIR / "ATTRIBUTION.txt").is_file()


def test_loader_errors(tmp_path):
    with pytest.raises(BortError, match="does not exist"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(BortError, match="cannot load a tokenizer"):
        load_tokenizer(tmp_path)


def test_loader_takes_any_local_directory(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    assert load_tokenizer(tmp_path)("Hello world")["input_ids"] == [0, 31414, 232, 2]
