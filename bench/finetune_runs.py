"""One `bort finetune` run as a benchmark step: a subprocess at one thread, reused when its metrics.json is there
(each run directory is an ordinary resumable run, so a stopped benchmark continues where it was)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def finetune_run(out: Path, flags: list[str]) -> dict:
    """``bort finetune --out OUT FLAGS...`` unless OUT already finished; its metrics.json, with the command."""
    command = [sys.executable, "-m", "bort.cli.main", "finetune", "--out", str(out), *flags]
    if not (out / "metrics.json").is_file():
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
        if done.returncode != 0:
            raise SystemExit(f"{out} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {**metrics, "command": "bort " + " ".join(command[3:])}
