"""Corpus tables (JSON lines, CSV, TSV, Parquet, save_to_disk folders) read as documents, --text-field, and
their one-line refusals, on real text: a Gutenberg novel, SuperGLUE RTE and GLUE SST-2."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from bort.errors import BortError
from bort.extract.config import ExtractConfig
from bort.mlm.corpus import documents, read_text, resolve_corpus, strip_gutenberg
from bort.mlm.dataset import _cache_key, tokenize_corpus
from bort.pretrain.config import PretrainConfig
from bort.search.config import SearchConfig
from bort.tokenizer import load_tokenizer
from test_pretrain import cli_args, run_cli

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "saved")


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path_factory, monkeypatch):
    """datasets' parse cache in a temporary folder, not in the user's home."""
    import datasets

    cache = tmp_path_factory.getbasetemp() / "hf-datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


@pytest.fixture(scope="module")
def novel(shared_data, tmp_path_factory):
    """The first 80,000 characters of Treasure Island as a .txt file, and its documents (200-word runs)."""
    path = tmp_path_factory.mktemp("novel") / "treasure.txt"
    body = strip_gutenberg(read_text(shared_data / "text" / "gutenberg" / "120-0.txt"))
    path.write_text(body[:80_000], encoding="utf-8")
    docs = documents(path, doc_words=200)
    assert len(docs) > 20
    return path, docs


def write_table(path, kind, columns: dict[str, list]):
    """``columns`` written as a table of the given kind; returns the path the corpus names."""
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    if kind in ("jsonl", "json"):
        lines = [json.dumps(row) for row in rows]
        text = "\n".join(lines) if kind == "jsonl" else "[\n" + ",\n".join(lines) + "\n]"
        path.with_suffix(f".{kind}").write_text(text + "\n", encoding="utf-8")
    elif kind in ("csv", "tsv"):
        with open(path.with_suffix(f".{kind}"), "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns), delimiter="," if kind == "csv" else "\t")
            writer.writeheader()
            writer.writerows(rows)
    else:
        import datasets

        table = datasets.Dataset.from_dict(columns)
        if kind == "parquet":
            table.to_parquet(str(path.with_suffix(".parquet")))
        else:
            table.save_to_disk(str(path))
            return path
    return path.with_suffix(f".{kind}")


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_gives_the_text_files_documents_and_tokens(kind, novel, tokenizer, tmp_path):
    txt, docs = novel
    table = write_table(tmp_path / "novel", kind, {"id": list(range(len(docs))), "text": docs})
    assert documents(table) == docs
    from_text = tokenize_corpus(resolve_corpus([str(txt)]), tokenizer, tmp_path / "cache", doc_words=200)
    from_table = tokenize_corpus(resolve_corpus([str(table)]), tokenizer, tmp_path / "cache", doc_words=200)
    assert all(np.array_equal(a, b) for a, b in zip(from_text, from_table))
    assert len(list((tmp_path / "cache").glob("tokens-*.npz"))) == 2  # keyed by content: one cache each


def test_empty_and_null_rows_are_skipped(novel, tmp_path):
    _, docs = novel
    path = write_table(tmp_path / "gaps", "jsonl", {"text": [docs[0], "", None, "  ", docs[1]]})
    assert documents(path) == docs[:2]


@pytest.mark.parametrize("kind", ("jsonl", "saved"))
def test_text_field_picks_the_column(kind, shared_data, tmp_path):
    records = [json.loads(line) for line in (shared_data / "superglue" / "RTE" / "val.jsonl").read_text().splitlines()]
    source = shared_data / "superglue" / "RTE" / "val.jsonl"
    if kind == "saved":
        source = write_table(tmp_path / "rte", kind, {k: [r[k] for r in records] for k in records[0]})
    for field in ("premise", "hypothesis"):
        [entry] = resolve_corpus([str(source)], text_field=field)
        assert entry.text_field == field
        assert documents(entry.path, text_field=field) == [r[field] for r in records]


def test_tsv_of_glue_sst2_by_its_sentence_column(shared_data):
    path = shared_data / "glue" / "SST-2" / "dev.tsv"
    with open(path, encoding="utf-8", newline="") as f:
        sentences = [row["sentence"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    assert documents(resolve_corpus([str(path)], "sentence")[0].path, text_field="sentence") == sentences


def test_the_text_field_enters_the_cache_key(shared_data, tokenizer, tmp_path, novel):
    rte = str(shared_data / "superglue" / "RTE" / "val.jsonl")
    premise, hypothesis = resolve_corpus([rte], "premise"), resolve_corpus([rte], "hypothesis")
    assert _cache_key(premise, tokenizer, 1000) != _cache_key(hypothesis, tokenizer, 1000)
    ids_p, _ = tokenize_corpus(premise, tokenizer, tmp_path)
    ids_h, _ = tokenize_corpus(hypothesis, tokenizer, tmp_path)  # a cache hit here would return the premises
    assert len(ids_h) < len(ids_p) and len(list(tmp_path.glob("tokens-*.npz"))) == 2
    # A save_to_disk folder: the field and the rows both change the key.
    records = [json.loads(line) for line in open(rte, encoding="utf-8")]
    saved = write_table(tmp_path / "rte", "saved", {k: [r[k] for r in records] for k in ("premise", "hypothesis")})
    keys = {resolve_corpus([str(saved)], field)[0].sha1 for field in ("premise", "hypothesis")}
    changed = write_table(tmp_path / "rte2", "saved", {"premise": [r["premise"] for r in records[1:]],
                                                       "hypothesis": [r["hypothesis"] for r in records[1:]]})
    assert len(keys | {resolve_corpus([str(changed)], "premise")[0].sha1}) == 3
    # Plain text ignores the field: its key, and so its cache, stay as they were.
    txt = str(novel[0])
    assert resolve_corpus([txt], "premise")[0].sha1 == resolve_corpus([txt])[0].sha1


def test_text_field_is_one_option_shared_by_the_three_commands():
    fields = [{f.name: f for f in dataclasses.fields(c)}["text_field"] for c in (PretrainConfig, SearchConfig,
                                                                                  ExtractConfig)]
    assert all(f.default == "text" and f.metadata == fields[0].metadata for f in fields)
    assert fields[0].metadata["resumable"] is False
    base = dict(mode="mlm", arch=[1, 2, 32, 64], corpus=["x.jsonl"], out="run")
    assert PretrainConfig(**base).differences(PretrainConfig(**base, text_field="body")) == ["text_field"]


def test_missing_column_names_the_file_and_its_columns(shared_data):
    path = shared_data / "superglue" / "RTE" / "val.jsonl"
    with pytest.raises(BortError, match=r"val\.jsonl has no column 'text' .*its columns: premise, hypothesis, label, "
                                        r"idx$"):
        resolve_corpus([str(path)])


@pytest.mark.parametrize("kind", ("jsonl", "csv", "parquet", "saved"))
def test_a_column_of_numbers_is_refused(kind, tmp_path):
    path = write_table(tmp_path / "numbers", kind, {"text": ["one", "two"], "n": [1, 2]})
    with pytest.raises(BortError, match=r"column 'n' of .*numbers.* holds int64 values, not strings"):
        resolve_corpus([str(path)], "n")


def test_a_mixed_json_column_is_refused(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a sentence"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(BortError, match=r"column 'text' of .*mixed\.jsonl holds .* not strings"):
        resolve_corpus([str(path)])


@pytest.mark.parametrize("line, message", [('{"text": "broken', r"line 3: not valid JSON"),
                                           ('"a bare string"', r"line 3: expected a JSON object, got str")])
def test_a_bad_jsonl_line_is_named(line, message, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "one"}\n\n' + line + '\n{"text": "four"}\n', encoding="utf-8")
    with pytest.raises(BortError, match=rf"bad\.jsonl, {message}") as error:
        resolve_corpus([str(path)])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("suffix", (".txt", ".jsonl", ".csv"))
def test_non_utf8_is_refused_with_the_byte_and_offset(suffix, tmp_path):
    path = tmp_path / f"latin1{suffix}"
    content = {".txt": "Un café.\n", ".jsonl": '{"text": "Un café."}\n', ".csv": "text\nUn café.\n"}[suffix]
    data = content.encode("latin-1")
    path.write_bytes(data)
    with pytest.raises(BortError, match=rf"latin1\{suffix} is not UTF-8 text \(byte 0xe9 at offset "
                                        rf"{data.index(0xE9)}\); convert it"):
        resolve_corpus([str(path)])
    if suffix == ".txt":  # read directly too (a table is read after resolve_corpus has checked it)
        with pytest.raises(BortError, match="not UTF-8"):
            documents(path)


def test_utf8_with_a_bom_is_read_and_utf16_refused(tmp_path, novel):
    paragraph = novel[1][0].split("\n")[0]
    for suffix, text in ((".txt", paragraph), (".jsonl", json.dumps({"text": paragraph})),
                         (".csv", 'text\n"' + paragraph.replace('"', '""') + '"')):
        path = tmp_path / f"bom{suffix}"
        path.write_bytes(b"\xef\xbb\xbf" + (text + "\n").encode("utf-8"))
        [entry] = resolve_corpus([str(path)])
        assert documents(entry.path) == [paragraph]  # no U+FEFF in the text, nor in the CSV's column name
    (tmp_path / "utf16.txt").write_text(paragraph, encoding="utf-16")
    with pytest.raises(BortError, match="UTF-16 text .* convert it to UTF-8"):
        resolve_corpus([str(tmp_path / "utf16.txt")])


def test_other_unreadable_tables_get_one_line(tmp_path):
    (tmp_path / "fake.parquet").write_text("not parquet\n")
    with pytest.raises(BortError, match=r"cannot read corpus file .*fake\.parquet: .*[Pp]arquet") as error:
        resolve_corpus([str(tmp_path / "fake.parquet")])
    assert "\n" not in str(error.value)
    import datasets

    datasets.DatasetDict(train=datasets.Dataset.from_dict({"text": ["a"]})).save_to_disk(str(tmp_path / "splits"))
    with pytest.raises(BortError, match=r"holds a DatasetDict \(splits train\): give one split's folder"):
        resolve_corpus([str(tmp_path / "splits")])


def test_folders_take_tables_but_not_json_metadata(novel, tmp_path):
    _, docs = novel
    folder = tmp_path / "shards"
    folder.mkdir()
    write_table(folder / "part-0", "parquet", {"text": docs[:5]})
    write_table(folder / "part-1", "jsonl", {"text": docs[5:9]})
    (folder / "meta.json").write_text('{"source": "not a corpus"}\n')
    entries = resolve_corpus([str(folder)])
    assert [e.path.name for e in entries] == ["part-0.parquet", "part-1.jsonl"]
    assert sum((documents(e.path) for e in entries), []) == docs[:9]


def test_pretrain_cli_on_jsonl_with_text_field(novel, tokenizer, tmp_path, datasets_cache):
    _, docs = novel
    corpus = write_table(tmp_path / "novel", "jsonl", {"id": list(range(len(docs))), "body": docs})
    cache, env = tmp_path / "cache", {"HF_DATASETS_CACHE": str(datasets_cache)}
    args = cli_args(str(corpus), str(cache), tmp_path / "run", "--max-steps", "3", "--doc-words", "200")
    result = run_cli(*args, "--text-field", "body", env_extra=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "pretrain_config.json").read_text())["text_field"] == "body"
    key = _cache_key(resolve_corpus([str(corpus)], "body"), tokenizer, 200)
    assert [p.name for p in cache.glob("tokens-*.npz")] == [f"tokens-{key}.npz"]  # the body column was read
    # Without --text-field the rows' column is "text", which this file lacks: one line, exit 2, nothing written.
    result = run_cli(*cli_args(str(corpus), str(cache), tmp_path / "run2", "--max-steps", "3"), env_extra=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("bort: error: ")
    assert "has no column 'text'" in result.stderr and "its columns: id, body" in result.stderr
    assert not (tmp_path / "run2").exists()


def test_a_compressed_table_is_refused_not_read_as_text(tmp_path):
    import gzip

    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "a row"}\n'))
    with pytest.raises(BortError, match="is a compressed table; decompress it"):
        resolve_corpus([str(path)])
