"""Read a text corpus into documents: plain text, Project Gutenberg e-texts, WikiText token files.

A *document* is the unit of the train/validation split: a WikiText article, or a run of
consecutive paragraphs of about ``doc_words`` words from a plain-text file (so that one book
yields many documents and validation text comes from passages the model never trained on).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from bort.errors import BortError

TEXT_SUFFIXES = (".txt", ".tokens", ".raw", ".txt.gz", ".tokens.gz")

_PG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.MULTILINE | re.IGNORECASE)
_PG_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.MULTILINE | re.IGNORECASE)
_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    size: int
    sha1: str  # of the bytes: the tokenization cache is keyed by content, not by name


def resolve_corpus(specs: list[str]) -> list[CorpusFile]:
    """Expand files, folders (recursively, text files only) and globs; a clear error if empty."""
    paths: list[Path] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(TEXT_SUFFIXES))
            if not found:
                raise BortError(f"corpus folder {p} holds no text files ({', '.join(TEXT_SUFFIXES)})")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True) if Path(m).is_file())
            if not matches:
                raise BortError(f"corpus path {spec} does not exist and matches no file")
            paths.extend(matches)
    files = []
    for path in dict.fromkeys(paths):  # de-duplicate, keep order
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BortError(f"cannot read corpus file {path}: {exc.strerror}")
        _check_text(path, data)
        files.append(CorpusFile(path, len(data), hashlib.sha1(data).hexdigest()))
    if not files:
        raise BortError("the corpus is empty: give text files, folders or globs")
    return files


def _check_text(path: Path, data: bytes) -> None:
    """Refuse a file that is not text (a binary file would otherwise read as one garbled document)."""
    if path.name.endswith(".gz"):
        try:
            with gzip.open(io.BytesIO(data)) as f:
                data = f.read(65536)
        except (OSError, EOFError) as exc:
            raise BortError(f"corpus file {path} is not a valid gzip file: {exc}")
    if b"\x00" in data[:65536]:
        raise BortError(f"corpus file {path} is not a text file (it holds NUL bytes)")


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


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


def documents(path: Path, doc_words: int = 1000) -> list[str]:
    """The documents of one corpus file, by its kind."""
    text = read_text(path)
    if ".tokens" in path.name:
        return wikitext_articles(text)
    return _group(_paragraphs(strip_gutenberg(text)), doc_words)
