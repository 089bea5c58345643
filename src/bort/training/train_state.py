"""Training checkpoints that resume exactly: weights, optimizer, scheduler, step and RNG states.

Each checkpoint is a folder ``checkpoints/step-0000100`` written as ``….partial`` and renamed
when complete, so a killed run leaves either a whole checkpoint or none. Weights are safetensors;
the optimizer, scheduler and RNG states are tensors and plain values, loaded with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from bort.errors import BortError

_NAME = re.compile(r"^step-(\d{7})$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:07d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (``.partial`` folders are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name))


def step_of(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def partial_dir(run_dir: Path, step: int) -> Path:
    path = checkpoint_dir(run_dir, step).with_suffix(".partial")
    return path


def write_rank_rng(run_dir: Path, step: int, rank: int) -> None:
    """Every process writes its own RNG state into the checkpoint being assembled."""
    folder = partial_dir(run_dir, step)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(rng_state(), folder / f"rng-{rank}.pt")


def write_main(run_dir: Path, step: int, model, optimizer, scheduler, state: dict, keep: int,
               extra: dict | None = None) -> Path:
    """The main process writes the shared parts, renames the folder into place, prunes old ones.
    ``extra``: name → a trainable module beside the model (e.g. a distillation projection),
    saved as NAME.safetensors."""
    from safetensors.torch import save_file

    folder = partial_dir(run_dir, step)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder / "model", safe_serialization=True)
    for name, module in (extra or {}).items():
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(folder / f"{name}.safetensors"))
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    (folder / "state.json").write_text(json.dumps({**state, "step": step}, indent=2))
    final = checkpoint_dir(run_dir, step)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(folder, final)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _tied_aliases(model, stored: dict) -> set[str]:
    """Keys of tensors that share storage with a stored one (a tied decoder is saved once)."""
    groups: dict[int, list[str]] = {}
    for key, tensor in model.state_dict().items():
        groups.setdefault(tensor.data_ptr(), []).append(key)
    return {k for keys in groups.values() if any(k2 in stored for k2 in keys) for k in keys if k not in stored}


def load(path: Path, model, optimizer, scheduler, rank: int, extra: dict | None = None) -> dict:
    """Restore everything from ``path`` into the given objects (and ``extra``'s modules, see :func:`write_main`);
    a clear error if it is damaged."""
    try:
        for name, module in (extra or {}).items():
            module.load_state_dict(load_file(str(path / f"{name}.safetensors")))
        state = json.loads((path / "state.json").read_text())
        weights = load_file(str(path / "model" / "model.safetensors"))
        missing, unexpected = model.load_state_dict(weights, strict=False)
        missing = [k for k in missing if k not in _tied_aliases(model, weights)]
        if missing or unexpected:
            raise ValueError(f"weights do not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        rng_file = path / f"rng-{rank}.pt"
        set_rng_state(torch.load(rng_file, weights_only=True))
    except BortError:
        raise
    except Exception as exc:  # a truncated or foreign file surfaces as many exception types
        raise BortError(f"checkpoint {path} is damaged or incomplete: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    return state
