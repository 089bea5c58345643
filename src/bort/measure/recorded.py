"""A latency ratio ``bort search`` measured, read back from the files its run directory keeps.

The cards of a student whose shape the search timed (``bort extract``'s, ``bort pretrain``'s from random weights)
report that ratio. It is read here rather than in :mod:`bort.search`: extraction sits below the search (the search
starts from extracted students), so the reader of the search's record must sit below both, beside the measuring
it records. The files are the search's own: ``search_summary.json`` and ``search_config.json``
(:mod:`bort.search.runner`), ``ranking.csv`` (:func:`bort.search.report.ranking_csv`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bort.checkpoint import model_name


def search_latency(arch: list[int] | None, *inputs) -> dict | None:
    """The latency ratio ``bort search`` measured for ``arch`` against its teacher, when one of ``inputs`` (a
    search's ``best/config.json`` or ``importance.json``) lies in a search run that timed it (in ms, not FLOPs)."""
    if arch is None:
        return None
    for given in inputs:
        if not given:
            continue
        for run in (Path(given).parent, Path(given).parent.parent):
            try:
                summary = json.loads((run / "search_summary.json").read_text(encoding="utf-8"))
                search_cfg = json.loads((run / "search_config.json").read_text(encoding="utf-8"))
                with open(run / "ranking.csv", newline="", encoding="utf-8") as f:
                    rows = list(csv.DictReader(f))
            except (OSError, ValueError):
                continue
            if summary.get("latency_unit") != "ms":
                continue
            row = next((r for r in rows if [int(r[k]) for k in "DAHI"] == list(arch)), None)
            if row is None:
                continue
            student, teacher = float(row["latency"]), float(summary["latency_T"])
            device = summary.get("device") or {}
            return {"ratio": teacher / student, "student_ms": student, "teacher_ms": teacher,
                    "student_ms_interval": [float(row["latency_low"]), float(row["latency_high"])]
                    if row.get("latency_low") else None,
                    "teacher": model_name(search_cfg.get("teacher")), "device": device.get("device_name"),
                    "threads": device.get("threads"), "batch": search_cfg.get("latency_batch"),
                    "seq_len": search_cfg.get("latency_seq_len"), "measured_by": f"bort search ({run})",
                    "arch": list(arch)}
    return None
