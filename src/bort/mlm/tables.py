"""Corpora with one document per row: JSON lines, CSV, TSV and Parquet files, and ``save_to_disk`` folders.

They are read with Hugging Face ``datasets`` (local files only), the text taken from one column, the
``--text-field``. ``datasets`` keeps what it parsed in its own memory-mapped cache (``HF_DATASETS_CACHE``),
so the second read of a file, by the tokenizer after :func:`check` at resolve time, costs little.
Whatever goes wrong becomes one :class:`BortError` line naming the file: ``datasets``' own messages
are long, say which of its builders failed rather than which ``--corpus`` entry, and log beside it.
"""

from __future__ import annotations

from pathlib import Path

from bort.errors import BortError
from bort.util.data_files import TABLE_SUFFIXES, is_table, load_table  # noqa: F401 (is_table: the corpus's test)
SAVED_MARKERS = ("dataset_info.json", "state.json")  # what ``Dataset.save_to_disk`` writes beside its data
SAVED_DICT_MARKER = "dataset_dict.json"  # ``DatasetDict.save_to_disk``: one sub-folder per split
TEXT_TYPES = ("string", "large_string", "null")  # a column of nulls only holds no text, but it is not a wrong type


def is_saved_dataset(path: Path) -> bool:
    """A folder written by ``save_to_disk`` (of a Dataset, or of a DatasetDict, refused when read)."""
    return path.is_dir() and any((path / name).is_file() for name in SAVED_MARKERS + (SAVED_DICT_MARKER,))


def hash_saved_dataset(path: Path, digest) -> int:
    """Feed a saved dataset's data files, by name and bytes, to ``digest`` (its content: the token cache's key);
    their total size. state.json and dataset_info.json are left out: their fingerprints change with no change of
    rows."""
    size = 0
    for data_file in sorted(path.glob("*.arrow")):
        try:
            data = data_file.read_bytes()
        except OSError as exc:
            raise BortError(f"cannot read corpus file {data_file}: {exc.strerror}")
        digest.update(data_file.name.encode() + b"\0" + data)
        size += len(data)
    return size


def load_column(path: Path, text_field: str):
    """The ``text_field`` column of a table or saved dataset, refused in one line when the file does not read,
    lacks the column or holds something else than strings in it."""
    import datasets

    table = load_table(path, "corpus file")
    if isinstance(table, datasets.DatasetDict):
        raise BortError(f"{path} holds a DatasetDict (splits {', '.join(table)}): give one split's folder, "
                        f"e.g. {path / next(iter(table), 'train')}")
    if text_field not in table.column_names:
        raise BortError(f"{path} has no column {text_field!r} (--text-field); its columns: "
                        f"{', '.join(table.column_names) or 'none'}")
    feature = table.features[text_field]
    if not (isinstance(feature, datasets.Value) and feature.dtype in TEXT_TYPES):
        kind = feature.dtype if isinstance(feature, datasets.Value) else type(feature).__name__
        raise BortError(f"column {text_field!r} of {path} holds {kind} values, not strings; "
                        "choose a text column with --text-field")
    return table.select_columns([text_field])


def check(path: Path, text_field: str) -> None:
    """Everything :func:`rows` would refuse, refused now: before a run writes anything."""
    load_column(path, text_field)


def rows(path: Path, text_field: str) -> list[str]:
    """One document per row, its text as written; rows whose text is empty or null are skipped."""
    column = load_column(path, text_field)
    return [text for text in column[text_field] if text and text.strip()]
