"""Θ, the hyperparameter sets Agora trains with: presets, or a YAML/JSON file.

A set θ is (lr, weight_decay, warmup_ratio, seed). ``paper`` is the grid of the Bort README
(3 × 4 × 4 × 5 = 240 sets). ``cpu-small`` keeps the paper's shape at a size a laptop trains in
minutes: lr {1e-4, 5e-5} × wd {0, 0.01} × warmup {0.1} × seed {0, 1} = 8 sets. A file gives either
a grid ({"lr": [...], "weight_decay": [...], "warmup_ratio": [...], "seed": [...]}) or a list of sets.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from bort.errors import BortError

FIELDS = ("lr", "weight_decay", "warmup_ratio", "seed")
PRESETS = {
    "paper": {"lr": [1e-4, 1e-5, 9e-6], "weight_decay": [0, 10, 100, 350], "warmup_ratio": [0.35, 0.40, 0.45, 0.50],
              "seed": [0, 1, 2, 3, 4]},
    "cpu-small": {"lr": [1e-4, 5e-5], "weight_decay": [0.0, 0.01], "warmup_ratio": [0.1], "seed": [0, 1]},
}


def grid(values: dict[str, list]) -> list[dict]:
    """Every combination, in the order lr, weight decay, warm-up, seed (the last varying fastest)."""
    return [dict(zip(FIELDS, combo)) for combo in itertools.product(*(values[f] for f in FIELDS))]


def _check_set(theta: dict, where: str) -> dict:
    missing = [f for f in FIELDS if f not in theta]
    unknown = sorted(set(theta) - set(FIELDS))
    if missing or unknown:
        raise BortError(f"{where}: a hyperparameter set needs exactly {', '.join(FIELDS)}"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    for f in ("lr", "weight_decay", "warmup_ratio"):
        if not isinstance(theta[f], (int, float)) or isinstance(theta[f], bool) or theta[f] < 0:
            raise BortError(f"{where}: {f} must be a number ≥ 0, got {theta[f]!r}")
    if theta["lr"] <= 0:
        raise BortError(f"{where}: lr must be above 0, got {theta['lr']}")
    if not isinstance(theta["seed"], int) or isinstance(theta["seed"], bool):
        raise BortError(f"{where}: seed must be an integer, got {theta['seed']!r}")
    return {f: theta[f] for f in FIELDS}


def load_theta(spec: str) -> list[dict]:
    """Θ from a preset name or a .yaml/.yml/.json file; refused when empty, malformed or repeated."""
    if spec in PRESETS:
        sets = grid(PRESETS[spec])
    else:
        path = Path(spec)
        if not path.is_file():
            raise BortError(f"--theta {spec}: neither a preset ({', '.join(PRESETS)}) nor an existing file")
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            else:
                data = json.loads(path.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 — YAML and JSON raise their own types
            raise BortError(f"--theta {path}: cannot parse it: {str(exc).splitlines()[0]}")
        if isinstance(data, dict):
            lists = {f: data.get(f) for f in FIELDS}
            bad = [f for f, v in lists.items() if not isinstance(v, list)]
            if bad or set(data) - set(FIELDS):
                raise BortError(f"--theta {path}: a grid maps each of {', '.join(FIELDS)} to a list of values")
            sets = grid(lists)
        elif isinstance(data, list):
            sets = data
        else:
            raise BortError(f"--theta {path}: expected a grid (a mapping) or a list of sets")
        sets = [_check_set(t, f"--theta {path}, set {n + 1}") if isinstance(t, dict) else
                _raise(f"--theta {path}, set {n + 1}: expected a mapping") for n, t in enumerate(sets)]
    if not sets:
        raise BortError(f"--theta {spec}: Θ is empty; give at least one hyperparameter set")
    keys = [name(t) for t in sets]
    if len(set(keys)) != len(keys):
        raise BortError(f"--theta {spec}: a hyperparameter set appears twice")
    return sets


def _raise(message: str):
    raise BortError(message)


def name(theta: dict) -> str:
    """A stable, readable key: ``lr=0.0001,weight_decay=0,warmup_ratio=0.35,seed=0``."""
    return ",".join(f"{f}={theta[f]:g}" if f != "seed" else f"seed={theta[f]}" for f in FIELDS)
