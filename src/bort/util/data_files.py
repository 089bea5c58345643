"""A user's data files: UTF-8 text, and tables (CSV, TSV, JSON lines, Parquet, ``save_to_disk`` folders) read
with Hugging Face ``datasets``.

Shared by the corpus (``--corpus``, one document per row) and the user's own task (``--task custom``,
one example per row). The conventions are ``run_glue.py``'s: the file's suffix names its format and
a header names its columns. Whatever goes wrong becomes one :class:`BortError` line naming the file:
``datasets``' own messages are long, name its builder rather than the user's file, and log beside it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import logging
from pathlib import Path
from typing import Iterator

from bort.errors import BortError, first_line

# The ``datasets`` builder of each file kind; .tsv is its CSV reader with a tab delimiter.
TABLE_SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_utf8(path: Path, raw: bytes, what: str = "file") -> str:
    """The text of a UTF-8 file (a leading BOM, which declares it, dropped); anything else refused in one line:
    decoding it as Latin-1 or the like would be a guess, and would train on mojibake without a word. A UTF-16
    file, which declares itself by its BOM, is named as such."""
    if raw.startswith(UTF16_BOMS):
        raise BortError(f"{what} {path} is UTF-16 text (it starts with a UTF-16 byte-order mark); convert it to UTF-8")
    body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(raw) - len(body)
        where = " of its decompressed text" if path.name.endswith(".gz") else ""
        raise BortError(f"{what} {path} is not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset}{where}); "
                        "convert it, e.g. iconv -f ITS-ENCODING -t UTF-8")


def read_utf8(path: Path, what: str = "file") -> str:
    """The text of a UTF-8 file; one line naming it when it is not UTF-8 (see :func:`decode_utf8`). Every reader of
    a user's or a benchmark's file goes through here, so each refuses the same files with the same words."""
    return decode_utf8(path, path.read_bytes(), what)


def check_unique_columns(path: Path, header: list[str], where: str = "line 1: the header") -> None:
    """Refuse a header that names a column twice: a reader would keep one of the two (pandas renames the second
    ``label.1``), and which one was trained on would be a guess."""
    seen = set()
    for name in header:
        if name in seen:
            raise BortError(f"{path}, {where} names column {name!r} twice; rename or remove one of them")
        seen.add(name)


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """``json.loads``' ``object_pairs_hook``: an object whose key repeats is refused (JSON keeps the last silently)."""
    record = {}
    for key, value in pairs:
        if key in record:
            raise ValueError(f"the key {key!r} appears twice in one object")
        record[key] = value
    return record


def _check_table_columns(path: Path, text: str | None) -> None:
    """A CSV/TSV header, a JSON object or a Parquet schema that names a column twice, refused before ``datasets``
    reads it (it would keep one of the two, or fail with a message about its own builder)."""
    if text is not None and TABLE_SUFFIXES[path.suffix.lower()] == "json":
        bad_json_line(path)  # every line parsed with unique_keys: a repeated key is named with its line
    elif text is not None and TABLE_SUFFIXES[path.suffix.lower()] == "csv":
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        check_unique_columns(path, next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), []))
    elif path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception:  # noqa: BLE001 (a broken file is named by load_table's own error)
            return
        check_unique_columns(path, names, "its schema")


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


@contextlib.contextmanager
def quiet_datasets():
    """``datasets``' progress bars and error logs off while it reads (our error says it in one line), then as
    they were."""
    from datasets.utils import logging as ds_logging
    from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    verbosity, bars_off = ds_logging.get_verbosity(), are_progress_bars_disabled()
    ds_logging.set_verbosity(logging.CRITICAL)
    disable_progress_bars()
    try:
        yield
    finally:
        ds_logging.set_verbosity(verbosity)
        if not bars_off:
            enable_progress_bars()


def _root_cause(exc: BaseException) -> str:
    # datasets wraps a parser's error ("An error occurred while generating the dataset"): quote the parser's.
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return first_line(exc)


def bad_json_line(path: Path) -> None:
    """Raise with the line of a JSON(-lines) file that does not parse or is not an object, if there is one."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    if text.lstrip().startswith("["):  # one JSON array of objects, which datasets also reads
        try:
            json.loads(text, object_pairs_hook=unique_keys)
        except json.JSONDecodeError as exc:
            raise BortError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})")
        except ValueError as exc:  # a repeated key (unique_keys)
            raise BortError(f"{path}: {exc}; rename or remove one of them")
        return
    for _ in json_objects(path, text):
        pass


def json_objects(path: Path, text: str) -> Iterator[tuple[int, dict]]:
    """The objects of a JSON-lines text as (line number, object); blank lines skipped, and one line naming the
    line for one that does not parse, is not an object or names a key twice."""
    # Lines as a text-mode file splits them (not str.splitlines(): U+2028 may sit inside a JSON string).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=unique_keys)
        except json.JSONDecodeError as exc:
            raise BortError(f"{path}, line {line_no}: not valid JSON ({exc.msg}); JSON lines hold one object a line")
        except ValueError as exc:  # a repeated key (unique_keys)
            raise BortError(f"{path}, line {line_no}: {exc}; rename or remove one of them")
        if not isinstance(record, dict):
            raise BortError(f"{path}, line {line_no}: expected a JSON object, got {type(record).__name__}")
        yield line_no, record


def load_table(path: Path, what: str = "file"):
    """A table file's rows, or a ``save_to_disk`` folder's, as ``datasets`` reads them (offline; nothing
    downloaded); one line naming the file when it does not read."""
    import datasets

    with quiet_datasets():
        try:
            if path.is_dir():
                return datasets.load_from_disk(str(path))
            options = {}
            if TABLE_SUFFIXES[path.suffix.lower()] == "csv":  # (a UTF-8 BOM: dropped by the parser)
                # "NA", "null", "None" are text, not missing values: a review may say "None".
                options = {"delimiter": "\t" if path.suffix.lower() == ".tsv" else ",", "keep_default_na": False}
            return datasets.load_dataset(TABLE_SUFFIXES[path.suffix.lower()], data_files=str(path), split="train",
                                         **options)
        except Exception as exc:  # noqa: BLE001 (any library error on the user's file becomes one line)
            if path.is_file() and TABLE_SUFFIXES[path.suffix.lower()] == "json":
                bad_json_line(path)
            raise BortError(f"cannot read {what} {path}: {_root_cause(exc)}") from exc


def read_table(path: str | Path, flag: str = "the file"):
    """The rows of a user's table file (a task's split): refused in one line when it is missing or empty, has an
    unknown suffix, is not UTF-8, does not parse or holds no rows."""
    path = Path(path)
    if not path.is_file():
        raise BortError(f"{flag} {path} does not exist")
    if path.stat().st_size == 0:
        raise BortError(f"{flag} {path} is empty")
    if not is_table(path):
        raise BortError(f"{path}: unknown file type {path.suffix or '(no suffix)'!r}; expected "
                        f"{', '.join(TABLE_SUFFIXES)}")
    text = None
    if path.suffix.lower() != ".parquet":  # Parquet is binary; its strings are UTF-8 by its format
        text = read_utf8(path)
    _check_table_columns(path, text)
    table = load_table(path)
    if len(table) == 0:
        raise BortError(f"{path} holds no rows")
    return table


def require_columns(table, path: Path, wanted: dict[str, str | None]) -> None:
    """Each named column (flag → column) exists in ``table``; else one line listing the columns the file has."""
    for flag, column in wanted.items():
        if column is not None and column not in table.column_names:
            raise BortError(f"{path}: no column {column!r} ({flag}); its columns are "
                            f"{', '.join(map(repr, table.column_names))}")
