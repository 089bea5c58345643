"""Read a corpus into documents: plain text, Project Gutenberg e-texts, WikiText token files, and tables
(JSON lines, CSV, TSV, Parquet, ``save_to_disk`` folders; read in :mod:`bort.mlm.tables`).

A *document* is the unit of the train/validation split: a WikiText article, a run of
consecutive paragraphs of about ``doc_words`` words from a plain-text file (so that one book
yields many documents and validation text comes from passages the model never trained on), or
one row of a table, its ``--text-field`` column (a table's rows are its natural documents).
Every text file must be UTF-8: a guessed encoding would train on mojibake without a word.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from bort.config import option
from bort.errors import BortError
from bort.mlm import tables
from bort.util.data_files import UTF16_BOMS, decode_utf8

TEXT_SUFFIXES = (".txt", ".tokens", ".raw", ".txt.gz", ".tokens.gz")
# What a folder is searched for: text files and tables, but not .json, which folders often hold as metadata
# (a JSON corpus file is read when named, or matched by a glob).
FOLDER_SUFFIXES = TEXT_SUFFIXES + tuple(suffix for suffix in tables.TABLE_SUFFIXES if suffix != ".json")
CORPUS_HELP = ("text files (.txt, .tokens, .gz), JSON lines (.jsonl, .json), CSV, TSV or Parquet files, folders "
               "written by datasets' save_to_disk, folders of these, or globs")

_PG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.MULTILINE | re.IGNORECASE)
_PG_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.MULTILINE | re.IGNORECASE)
_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


def text_field_option(group: str | None = None):
    """``--text-field``, defined here once for every command that reads ``--corpus`` (pretrain, search, extract).
    Not resumable: another column is other data."""
    return option("text", "the column that holds the text in JSON lines, CSV, TSV and Parquet files and "
                  "save_to_disk folders: each row with text is one document (plain text files ignore it)",
                  metavar="COLUMN", group=group, resumable=False)


@dataclass(frozen=True)
class CorpusFile:
    path: Path  # a file, or a save_to_disk folder
    size: int
    sha1: str  # of the bytes (and, for a table, the column read): the tokenization cache is keyed by content
    text_field: str = "text"  # the column a table's documents are read from


def resolve_corpus(specs: list[str], text_field: str = "text") -> list[CorpusFile]:
    """Expand files, save_to_disk folders, folders (recursively: text files and tables) and globs, each checked
    (UTF-8 text; a table's ``text_field`` column present and of strings) before a run writes anything."""
    paths: list[Path] = []
    for spec in specs:
        p = Path(spec)
        if tables.is_saved_dataset(p):
            paths.append(p)
        elif p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and _in_folder_corpus(f))
            if not found:
                raise BortError(f"corpus folder {p} holds no text files ({', '.join(FOLDER_SUFFIXES)}) and is not "
                                "a save_to_disk folder")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True)
                             if Path(m).is_file() or tables.is_saved_dataset(Path(m)))
            if not matches:
                raise BortError(f"corpus path {spec} does not exist and matches no file")
            paths.extend(matches)
    files = [_corpus_file(path, text_field) for path in dict.fromkeys(paths)]  # de-duplicated, in order
    if not files:
        raise BortError("the corpus is empty: give text files, folders or globs")
    return files


def _in_folder_corpus(path: Path) -> bool:
    return path.name.endswith(TEXT_SUFFIXES) or (tables.is_table(path) and path.suffix.lower() != ".json")


def _corpus_file(path: Path, text_field: str) -> CorpusFile:
    """One checked corpus entry and its content hash; for a table the column enters the hash (another column,
    other documents)."""
    if path.is_dir():
        digest = hashlib.sha1()
        size = tables.hash_saved_dataset(path, digest)
    elif path.suffix.lower() == ".gz" and tables.is_table(path.with_suffix("")):
        # read as plain text, a compressed table would train on its JSON or CSV syntax
        raise BortError(f"corpus file {path} is a compressed table; decompress it (gunzip) to read its rows")
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BortError(f"cannot read corpus file {path}: {exc.strerror}")
        size, digest = len(data), hashlib.sha1(data)
        if path.suffix.lower() != ".parquet":  # Parquet is binary; its strings are UTF-8 by its format
            _check_text(path, data)
    if path.is_dir() or tables.is_table(path):
        digest.update(b"\0--text-field=" + text_field.encode("utf-8"))
        tables.check(path, text_field)
    return CorpusFile(path, size, digest.hexdigest(), text_field)


def _check_text(path: Path, data: bytes) -> None:
    """Refuse a file that is not text (a binary file would otherwise read as one garbled document) or not UTF-8."""
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise BortError(f"corpus file {path} is not a valid gzip file: {exc}")
    if b"\x00" in data[:65536] and not data.startswith(UTF16_BOMS):  # UTF-16 text is full of NULs: named below
        raise BortError(f"corpus file {path} is not a text file (it holds NUL bytes)")
    decode_utf8(path, data, "corpus file")


def read_text(path: Path) -> str:
    """The text of a plain-text corpus file, gzip-decompressed where it is; UTF-8 only."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return decode_utf8(path, raw, "corpus file")


def strip_gutenberg(text: str) -> str:
    """The body of a Project Gutenberg e-text, without its header and licence footer."""
    start, end = _PG_START.search(text), _PG_END.search(text)
    if start and end and start.end() < end.start():
        return text[start.end():end.start()]
    return text


def _paragraphs(text: str) -> list[str]:
    # Blank lines separate paragraphs; hard line wraps inside a paragraph become spaces.
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()]


def _group(paragraphs: list[str], doc_words: int) -> list[str]:
    docs, current, words = [], [], 0
    for para in paragraphs:
        current.append(para)
        words += len(para.split())
        if words >= doc_words:
            docs.append("\n".join(current))
            current, words = [], 0
    if current:
        docs.append("\n".join(current))
    return docs


def wikitext_articles(text: str) -> list[str]:
    """Split a WikiText file at its top-level ``= Title =`` headings."""
    articles, current = [], []
    for line in text.splitlines():
        if _WIKI_TITLE.match(line) and current:
            articles.append(current)
            current = []
        if line.strip():
            current.append(line.strip())
    if current:
        articles.append(current)
    return [_detokenize_wikitext("\n".join(a)) for a in articles]


def _detokenize_wikitext(text: str) -> str:
    # WikiText splits numbers and hyphenated words with @-markers: "1 @,@ 000", "state @-@ of".
    return text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")


def documents(path: Path, doc_words: int = 1000, text_field: str = "text") -> list[str]:
    """The documents of one corpus file, by its kind: a table's rows, WikiText's articles, plain text's runs of
    paragraphs."""
    if path.is_dir() or tables.is_table(path):
        return tables.rows(path, text_field)
    text = read_text(path)
    if ".tokens" in path.name:
        return wikitext_articles(text)
    return _group(_paragraphs(strip_gutenberg(text)), doc_words)
