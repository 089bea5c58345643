"""Output locations checked before any work, and run directories that belong to one process at a time.

Every command that makes a run directory lives through the same steps, in this order:

1. ``RunDirectory(out, config_file=...)``: ``--out`` can be a directory (:func:`check_output_dir`, nothing written);
2. :meth:`RunDirectory.check`: it is not one of the run's inputs (:func:`check_apart`) and holds no other model or
   run (:func:`check_foreign`); the recipe then validates its other inputs;
3. :meth:`RunDirectory.open`: ``--restart`` deletes an earlier run of the same command (:func:`start_over`), the
   directory is claimed: created, with an exclusive ``fcntl`` lock on ``RUN_DIR/.lock`` that the operating system
   releases when the process ends, even by kill -9 (a second run on it is refused with the holder's PID); the saved
   configuration is compared (:meth:`RunDirectory.resume`): a changed one is refused where the earlier run made
   progress; the recipe sets up inside the block, and the configuration is saved when it succeeds. A run that fails
   while setting up removes what it added, so the corrected rerun starts as if the failed one had never been.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

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
        # Permissions do not tell everything (read-only mounts, /proc, quotas): create a folder where the outermost
        # missing one would go and remove it at once, so that a run finds out now, not after its work. Its name is
        # unique, never the path's own: under torchrun every process checks --out at once, and a probe of the
        # path itself could trip over another process's probe or remove the folder the main process has claimed.
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".bort-probe-", dir=ancestor))
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


def check_foreign(out: str | Path, own_file: str, flag: str = "--out", anything: bool = False) -> None:
    """Refuse a directory that holds a model or a run this command did not make (a config.json or checkpoints but
    not ``own_file``): a run would overwrite its weights. ``anything``: every entry counts, for a run that replaces
    the whole directory at its end (it could not rename its result onto a folder holding files)."""
    out = Path(out)
    if not out.is_dir() or (out / own_file).is_file():
        return
    names = sorted(os.listdir(out)) if anything else ("config.json", "model.safetensors", "checkpoints")
    found = [name for name in names if os.path.lexists(out / name)]
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


class Resume(enum.Enum):
    """What a run is to its directory, as :meth:`RunDirectory.resume` finds it."""

    NEW = "new"  # no earlier run there (or --restart deleted it)
    CONTINUING = "continuing"  # an earlier run with the same configuration: the recipe goes on where it stopped
    AFRESH = "afresh"  # one with other settings but no progress to spoil: the recipe drops what they made


def _shown(value: Any) -> str:
    """A setting's value in the one-line refusal: a long list of files would drown the names that changed."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


class RunDirectory:
    """A run's ``--out``: checked at construction, claimed (created and locked) before the run writes.

    ``config_file``: the name of the command's saved configuration in it, which marks the directory as a run of
    this command (:meth:`check`, :meth:`start_over`) and holds the settings a re-run is compared with
    (:meth:`resume`, :meth:`open`)."""

    def __init__(self, path: str | Path, flag: str = "--out", *, config_file: str | None = None):
        self.path, self.flag = check_output_dir(path, flag), flag
        self.config_file = config_file
        self.restarted = False  # whether --restart deleted an earlier run (what the process read from it is stale)
        self._fd: int | None = None
        self._created: Path | None = None
        self._entries_before: set[str] = set()

    def _config_path(self) -> Path:
        """The saved configuration's path; the steps that read it need ``config_file`` (a pipeline's lock does not)."""
        if self.config_file is None:
            raise TypeError("RunDirectory(config_file=...) names the saved configuration these steps read")
        return self.path / self.config_file

    def check(self, inputs: dict[str, str | Path | None], anything: bool = False) -> None:
        """Before anything is written: the directory is apart from the run's inputs (flag → path) and holds nothing
        from another model or run (``anything``: nothing at all but a run of this command)."""
        check_apart(self.path, inputs, self.flag)
        check_foreign(self.path, self._config_path().name, self.flag, anything)

    def start_over(self) -> bool:
        """``--restart``: delete the earlier run of this command (:func:`start_over`); returns whether one was."""
        self.restarted = start_over(self.path, self._config_path().name)
        return self.restarted

    def resume(self, config, progress: Callable[[], bool] | None = None,
               differences: Callable[[Any, Any], list[str]] | None = None) -> Resume:
        """Whether ``config`` (a :class:`bort.config.Config`) starts a NEW run here, is CONTINUING the saved one,
        or starts AFRESH over a saved one with other settings. A changed configuration is refused where the
        earlier run made ``progress`` (None: a saved run always has), since continuing it would mix two settings
        in one result. ``differences(saved, config)``: the fields that may not change (``saved.differences``
        unless a recipe allows more)."""
        path = self._config_path()
        if not path.is_file():
            return Resume.NEW
        try:
            saved = type(config).load(path)
        except BortError:
            if progress is None or progress():
                raise
            return Resume.AFRESH  # nothing to continue: the unreadable file is replaced
        changed = differences(saved, config) if differences is not None else saved.differences(config)
        if not changed:
            return Resume.CONTINUING
        if progress is not None and not progress():
            return Resume.AFRESH
        details = ", ".join(f"{name} {_shown(getattr(saved, name, None))} → {_shown(getattr(config, name, None))}"
                            for name in changed)
        raise BortError(f"cannot continue {self.path}: its settings changed ({details}); {path} holds the original: "
                        f"re-run with those settings to continue, pass --restart to start over, or choose another "
                        f"{self.flag}")

    @contextlib.contextmanager
    def open(self, config, restart: bool = False, progress: Callable[[], bool] | None = None,
             differences: Callable[[Any, Any], list[str]] | None = None, main: bool = True,
             barrier: Callable[[], None] | None = None):
        """The run's directory from ``--restart`` to its saved configuration, around the recipe's set-up: the
        earlier run deleted (``restart``, once the inputs are known to be valid), the directory claimed, the saved
        configuration compared (:meth:`resume`; its answer is yielded), and ``config`` saved once the block
        succeeds, so that the file always describes a run that got going. If the block fails, what it added is
        removed. Under accelerate or torchrun only the ``main`` process deletes, claims and saves; every process
        compares, after ``barrier`` (called by all of them on --restart), so that none reads the run it deletes."""
        if restart:
            if main:
                self.start_over()
            if barrier is not None:
                barrier()
        with self.setting_up() if main else contextlib.nullcontext():
            yield self.resume(config, progress, differences)
            if main:
                config.save(self._config_path())

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
