"""Atomic writes (a file is either complete or absent, never half-written) and JSON-lines logs
that survive a kill (each record durable before the next; a torn last line repaired on the next append)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bort.errors import BortError


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place; a one-line error
    (and no file at all) when the location cannot be written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise BortError(f"cannot write {path}: {exc.strerror or exc}")
    return path


def write_json_atomic(path: str | Path, obj) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def append_log(path: str | Path, record: dict) -> None:
    """Append one JSON line to a log and make it durable (see :func:`append_records`)."""
    append_records(path, [record])


def append_records(path: str | Path, records: list[dict]) -> None:
    """Append JSON lines to a log in one write and make them durable (flushed and fsync'd) before returning.

    A last line cut short by a kill (no newline at the end of the file) is an incomplete record:
    it is cut off first, so that the new record starts a line of its own.
    """
    path = Path(path)
    with open(path, "a+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                f.seek(0)
                data = f.read()
                f.truncate(data.rfind(b"\n") + 1)  # 0 when the fragment is the only line
        f.seek(0, os.SEEK_END)
        f.write("".join(json.dumps(record) + "\n" for record in records).encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def read_log(path: str | Path) -> list[dict]:
    """The records of a JSON-lines log written by :func:`append_log`; a missing file is an empty log,
    and a last line cut short by a kill is skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):  # also one deleted while it was being read (another --restart)
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (a temporary file renamed into place) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path
