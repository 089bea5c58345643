"""One `bort` command as a benchmark step: a subprocess at one thread; `bort finetune` runs reused when their
metrics.json is there (each run directory is an ordinary resumable run, so a stopped benchmark continues where it
was)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def bort_step(args: list[str], out: Path) -> list[str]:
    """``bort ARGS...`` at one thread, offline; a failure ends the benchmark naming ``out`` and the last error line.
    Returns the command run."""
    command = [sys.executable, "-m", "bort.cli.main", *args]
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"{out} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return command


def finetune_run(out: Path, flags: list[str]) -> dict:
    """``bort finetune --out OUT FLAGS...`` unless OUT already finished; its metrics.json, with the command."""
    args = ["finetune", "--out", str(out), *flags]
    if not (out / "metrics.json").is_file():
        bort_step(args, out)
    # a finished run is reused as it is: refused when it trained on another subset or seed than asked for now
    saved = json.loads((out / "finetune_config.json").read_text())
    for flag, default in (("--max-train-examples", None), ("--seed", 0)):
        asked = int(flags[flags.index(flag) + 1]) if flag in flags else default
        trained = saved.get(flag[2:].replace("-", "_"))
        if trained != asked:
            raise SystemExit(f"{out} was trained with {flag} {trained}, not {asked}; give another --out")
    metrics = json.loads((out / "metrics.json").read_text())
    return {**metrics, "command": "bort " + " ".join(args)}
