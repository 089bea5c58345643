import pytest

from bort.errors import BortError
from bort.mlm.corpus import documents, read_text, resolve_corpus, strip_gutenberg, wikitext_articles


def test_gutenberg_header_and_footer_are_stripped(shared_data):
    path = shared_data / "text" / "gutenberg" / "120-0.txt"
    raw = read_text(path)
    body = strip_gutenberg(raw)
    assert "*** START OF" in raw and "*** END OF" in raw
    assert "Project Gutenberg" not in body[:2000] and "*** END OF" not in body
    assert "TREASURE ISLAND" in body.upper() and len(body) > 0.8 * len(raw) - 30_000


def test_plain_text_documents_are_paragraph_groups(shared_data):
    docs = documents(shared_data / "text" / "gutenberg" / "120-0.txt", doc_words=1000)
    words = [len(d.split()) for d in docs]
    assert len(docs) > 50  # ~70k words in ~1k-word documents
    assert all(w >= 1000 for w in words[:-1])
    assert sum(words) > 60_000


def test_wikitext_is_split_by_article(shared_data):
    docs = documents(shared_data / "text" / "wikitext-2" / "wiki.valid.tokens")
    assert len(docs) == 60  # WikiText-2's validation split has 60 articles
    assert docs[0].startswith("= Homarus gammarus =")
    assert " @-@ " not in docs[0]


def test_wikitext_articles_hand_example():
    text = " = A = \n\n line one \n = = Sub = = \n two \n = B = \n three \n"
    assert wikitext_articles(text) == ["= A =\nline one\n= = Sub = =\ntwo", "= B =\nthree"]


def test_resolve_files_folders_globs(shared_data, tmp_path):
    folder = shared_data / "text" / "wikitext-2"
    assert [f.path.name for f in resolve_corpus([str(folder)])] == ["wiki.test.tokens", "wiki.valid.tokens"]
    assert len(resolve_corpus([str(folder / "*.tokens"), str(folder / "wiki.test.tokens")])) == 2  # de-duplicated
    with pytest.raises(BortError, match="does not exist"):
        resolve_corpus([str(tmp_path / "missing.txt")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BortError, match="no text files"):
        resolve_corpus([str(tmp_path / "empty")])
