"""Inputs the teacher labels: ``--augment N`` copies of each training input, and ``--unlabeled`` text.

``--augment N``: N perturbed copies (φ) of each training input.
The copies carry no gold label: task distillation trains on them with the teacher's outputs alone
(:mod:`bort.finetune.distil`). Each source example's copies come from a generator seeded by
(``seed``, its position), and are appended to ``augmented.jsonl`` in the run directory as soon as they
exist, so a killed run continues where it stopped and ends with the copies an uninterrupted one makes.
A copy identical to its source, to a training input or to an earlier copy is dropped (so a short
input may get fewer than N).

``--unlabeled FILE ...``: in-domain inputs the user has without labels: a text file (one input a
line; single-text tasks), or a table (CSV, TSV, JSON lines, Parquet) whose ``--text-column`` (and, for
a pair task, ``--text-pair-column``) hold them.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from bort.errors import BortError
from bort.tasks.augment import make_phi, perturb
from bort.tasks.example import Example
from bort.util.data_files import decode_utf8, is_table, read_table, require_columns
from bort.util.io import append_log, read_log

AUGMENT_FILE = "augmented.jsonl"


def augmented_inputs(train: list[Example], copies: int, phi_name: str, fraction: float, mlm_dir: str | None,
                     seed: int, log: Path, show_progress: bool = True) -> tuple[list[Example], dict]:
    """The copies of ``train``'s inputs (unlabelled Examples, uid ``aug-<source uid>-<k>``) and a summary:
    how many were made and the seconds making them took (summed over the runs that made them, φ's loading
    left out)."""
    from tqdm.auto import tqdm

    done = read_log(log)
    seen = {(ex.text_a, ex.text_b) for ex in train}
    for record in done:
        seen.update((a, b) for a, b in record["inputs"])
    if len(done) < len(train):
        phi = make_phi(phi_name, fraction, mlm_dir)
        for i in tqdm(range(len(done), len(train)), desc=f"augmenting ×{copies} ({phi_name})", unit="example",
                      disable=not show_progress, dynamic_ncols=True, initial=len(done), total=len(train)):
            began = time.perf_counter()
            made = perturb(phi, train[i], copies, random.Random(seed * 1_000_003 + i), seen)
            record = {"i": i, "inputs": [[new.text_a, new.text_b] for new, _ in made],
                      "seconds": round(time.perf_counter() - began, 4)}
            append_log(log, record)
            done.append(record)
    out = [Example(uid=f"aug-{train[r['i']].uid}-{k}", text_a=a, text_b=b)
           for r in done for k, (a, b) in enumerate(r["inputs"])]
    return out, {"copies": len(out), "per_example": copies, "phi": phi_name,
                 "seconds": round(sum(r.get("seconds", 0.0) for r in done), 2)}


def unlabeled_inputs(paths: list[str], text_column: str, pair_column: str | None, pair_task: bool) -> list[Example]:
    """The inputs of the ``--unlabeled`` files, in order, blank ones skipped; a file that holds none, a text file
    for a pair task, or a table without the columns is refused in one line."""
    out: list[Example] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            raise BortError(f"--unlabeled {path} is a directory; expected a text file (one input a line) or a table")
        if is_table(path):
            table = read_table(path, "--unlabeled")
            columns = {"--text-column": text_column, "--text-pair-column": pair_column if pair_task else None}
            require_columns(table, path, columns)
            rows = [(str(r[text_column] or "").strip(), str(r[pair_column] or "").strip() if pair_task else None)
                    for r in table]
        else:
            if not path.is_file():
                raise BortError(f"--unlabeled {path} does not exist")
            if pair_task:
                raise BortError(f"--unlabeled {path}: a pair task's inputs need two columns; give a table (CSV, TSV, "
                                "JSON lines, Parquet) with --text-column and --text-pair-column")
            rows = [(line.strip(), None) for line in decode_utf8(path, path.read_bytes(), "--unlabeled").splitlines()]
        kept = [(a, b) for a, b in rows if a and (b is None or b)]
        if not kept:
            raise BortError(f"--unlabeled {path} holds no text (expected one input a line, or a table with "
                            f"column {text_column!r})")
        out += [Example(uid=f"unlabeled-{path.name}-{n}", text_a=a, text_b=b) for n, (a, b) in enumerate(kept)]
    return out
