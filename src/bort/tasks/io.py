"""Reading the official files, failing with the file, line and field named."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Iterator

from bort.errors import BortError
from bort.util.data_files import check_unique_columns, json_objects, read_utf8

csv.field_size_limit(sys.maxsize)


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise BortError(f"{path} does not exist (expected the task's official file)")
    if path.stat().st_size == 0:
        raise BortError(f"{path} is empty")
    return path


def read_tsv(path: Path, columns: list[str] | None = None, required: list[str] = ()) -> Iterator[tuple[int, dict]]:
    """Rows of a GLUE TSV as (line number, {column: value}).

    With ``columns`` the file has no header and these name its fields; otherwise the first line
    is the header. Every row must have as many fields as the header; ``required`` columns must
    exist. GLUE's files are unquoted, so quotes are ordinary characters.
    """
    text = read_utf8(require_file(path))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = columns
    start = 1
    if header is None:
        header = next(reader, None)
        start = 2
        if not header:
            raise BortError(f"{path} is empty")
        check_unique_columns(path, header)
    missing = [c for c in required if c not in header]
    if missing:
        raise BortError(f"{path}, line 1: missing column(s) {missing}; expected a header with {list(required)}")
    n_rows = 0
    for line_no, fields in enumerate(reader, start):
        if not fields or fields == [""]:
            continue
        if len(fields) != len(header):
            raise BortError(f"{path}, line {line_no}: expected {len(header)} tab-separated fields "
                            f"({', '.join(header)}), got {len(fields)}")
        n_rows += 1
        yield line_no, dict(zip(header, fields))
    if n_rows == 0:
        raise BortError(f"{path} holds no rows")


def read_jsonl(path: Path, required: list[str] = ()) -> Iterator[tuple[int, dict]]:
    """Objects of a SuperGLUE JSONL file as (line number, object), each with the ``required`` fields."""
    n_rows = 0
    for line_no, record in json_objects(path, read_utf8(require_file(path))):
        missing = [k for k in required if k not in record]
        if missing:
            raise BortError(f"{path}, line {line_no}: missing field(s) {missing}")
        n_rows += 1
        yield line_no, record
    if n_rows == 0:
        raise BortError(f"{path} holds no rows")


def label_index(value, labels: list[str], path: Path, line_no: int, field: str) -> int:
    """The index of a label value in the task's label list; a clear error for an unknown one."""
    text = str(value).strip()
    if isinstance(value, bool):
        text = "true" if value else "false"
    if text not in labels:
        raise BortError(f"{path}, line {line_no}: unknown {field} {value!r}; expected one of {labels}")
    return labels.index(text)
