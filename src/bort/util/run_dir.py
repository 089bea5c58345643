"""Output locations checked before any work, and run directories that belong to one process at a time.

A run (pre-training, a search, a fine-tuning) first checks that its ``--out`` can be a directory
(:func:`check_output_dir`, nothing written), then validates its inputs, then claims the directory
(:meth:`RunDirectory.claim`): it creates it and takes an exclusive ``fcntl`` lock on
``RUN_DIR/.lock``, which the operating system releases when the process ends, even by kill -9.
A second run on the same directory is refused with the holder's PID. A run that fails while
setting up (:meth:`RunDirectory.setting_up`) removes what it added, so the corrected rerun starts
as if the failed one had never been. ``--restart`` (:func:`start_over`) deletes an earlier run of the
same command first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

from bort.errors import BortError

LOCK_FILE = ".lock"


def _missing_folders(path: Path) -> list[Path]:
    """The folders of ``path`` that do not exist yet, outermost first."""
    return [p for p in reversed([path, *path.parents]) if not p.exists()]


def _check_creatable(target: Path, folder: Path, flag: str) -> None:
    missing = _missing_folders(folder)
    ancestor = missing[0].parent if missing else folder
    if not ancestor.is_dir():
        raise BortError(f"{flag} {target} cannot be created: {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise BortError(f"{flag} {target} cannot be created: {ancestor} is not writable")
    if missing:
        # Permissions do not tell everything (read-only mounts, /proc, quotas): create the outermost missing
        # folder and remove it at once, so that a run finds out now, not after its work.
        try:
            missing[0].mkdir()
            missing[0].rmdir()
        except OSError as exc:
            raise BortError(f"{flag} {target} cannot be created: {exc.strerror or exc}")


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a directory to write into: refused when it is a file or under one; nothing is created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BortError(f"{flag} {path} is a file, not a directory")
    _check_creatable(path, path, flag)
    return path


def check_output_file(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a file to write: refused when it is a directory or its folder cannot be made."""
    path = Path(path)
    if path.is_dir():
        raise BortError(f"{flag} {path} is a directory; expected a file name")
    _check_creatable(path, path.parent, flag)
    return path


def check_apart(out: str | Path, inputs: dict[str, str | Path | None], flag: str = "--out") -> None:
    """Refuse an output directory that is, or contains, one of the run's inputs (flag → path): writing the
    run there would overwrite the input, and pruning old checkpoints could delete its files."""
    out = Path(out).resolve()
    for input_flag, given in inputs.items():
        if not given:
            continue
        source = Path(given).resolve()
        if source == out or out in source.parents:
            relation = "is" if source == out else "contains"
            raise BortError(f"{flag} {given if source == out else out} {relation} {input_flag} {given}: the run would "
                            f"overwrite its own input; choose another {flag}")


def check_foreign(out: str | Path, own_file: str, flag: str = "--out") -> None:
    """Refuse a directory that holds a model or a run this command did not make (a config.json or checkpoints but
    not ``own_file``): a run would overwrite its weights."""
    out = Path(out)
    if not out.is_dir() or (out / own_file).is_file():
        return
    found = [name for name in ("config.json", "model.safetensors", "checkpoints") if (out / name).exists()]
    if found:
        raise BortError(f"{flag} {out} already holds {found[0]} from another model or run (no {own_file}); "
                        f"choose another {flag}")


def make_dirs(path: Path, flag: str = "--out") -> Path | None:
    """Create ``path`` and its missing parents; returns the topmost folder created (None if it existed)."""
    missing = _missing_folders(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BortError(f"{flag} {path} cannot be created: {exc.strerror or exc}")
    return missing[0] if missing else None


class RunDirectory:
    """A run's ``--out``: checked at construction, claimed (created and locked) before the run writes."""

    def __init__(self, path: str | Path, flag: str = "--out"):
        self.path, self.flag = check_output_dir(path, flag), flag
        self._fd: int | None = None
        self._created: Path | None = None
        self._entries_before: set[str] = set()

    def claim(self) -> "RunDirectory":
        """Create the directory and hold its lock until this process ends; refused while another run holds it."""
        self._created = make_dirs(self.path, self.flag)
        self._entries_before = set(os.listdir(self.path))
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BortError(f"{self.flag} {self.path}: cannot create its lock file: {exc.strerror or exc}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise BortError(f"{self.path} is in use by another bort run (process {holder}); wait for it to end, "
                            f"or choose another {self.flag}")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    @contextlib.contextmanager
    def setting_up(self):
        """Claim the directory; if anything fails inside the block, remove what the run added and re-raise."""
        self.claim()
        try:
            yield self
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Undo :meth:`claim`: the folders it created, else the entries added since (the lock file included)."""
        if self._created is not None:
            shutil.rmtree(self._created, ignore_errors=True)
        elif self.path.is_dir():
            for name in set(os.listdir(self.path)) - self._entries_before:
                target = self.path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def remove_run_dir(path: str | Path) -> None:
    """Delete a run directory to start it afresh; refused while a run holds its lock."""
    path = Path(path)
    if path.is_dir():
        RunDirectory(path).claim().release()
        shutil.rmtree(path)


def start_over(path: str | Path, own_file: str) -> bool:
    """``--restart``: delete the earlier run of this command in ``path`` (the directory holds ``own_file``, its saved
    configuration); refused while a run holds its lock. A directory without ``own_file`` is left as it is (the
    usual checks refuse a foreign one). Returns whether a run was deleted."""
    path = Path(path)
    if not (path / own_file).is_file():
        return False
    remove_run_dir(path)
    return True
