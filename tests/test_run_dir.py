"""The run-directory lifecycle every recipe shares (:class:`bort.util.run_dir.RunDirectory`): a new run, the
continuation of one with the same settings, a changed setting refused by name, --restart, a foreign directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from bort.config import Config, option, restart_option
from bort.errors import BortError
from bort.util.run_dir import Resume, RunDirectory

CONFIG_FILE = "toy_config.json"


@dataclass(kw_only=True)
class ToyRun(Config):
    out: str = option(help="the run directory", resumable=True)
    restart: bool = restart_option()
    lr: float = option(0.001, "learning rate")
    workers: int = option(1, "how many processes (the results do not depend on it)", resumable=True)


def opened(out, progress=None, **settings) -> Resume:
    """Open ``out`` for a toy run with ``settings`` and leave at once (the set-up succeeds)."""
    run_dir = RunDirectory(out, config_file=CONFIG_FILE)
    try:
        with run_dir.open(ToyRun(out=str(out), **settings), restart=settings.get("restart", False),
                          progress=progress) as state:
            return state
    finally:
        run_dir.release()


def test_a_new_run_saves_its_configuration_and_the_same_settings_continue_it(tmp_path):
    out = tmp_path / "run"
    assert opened(out) is Resume.NEW
    assert json.loads((out / CONFIG_FILE).read_text())["lr"] == 0.001
    assert opened(out, workers=4) is Resume.CONTINUING  # a resumable field may change
    assert json.loads((out / CONFIG_FILE).read_text())["workers"] == 4


def test_a_changed_setting_is_refused_naming_the_field_the_file_and_restart(tmp_path):
    out = tmp_path / "run"
    opened(out)
    (out / "checkpoint").write_text("progress")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(BortError) as refused:
        opened(out, lr=0.01)
    message = str(refused.value)
    assert "settings changed (lr 0.001 → 0.01)" in message
    assert f"{out / CONFIG_FILE} holds the original" in message and "--restart" in message
    assert "choose another --out" in message and len(message.splitlines()) == 1
    assert json.loads((out / CONFIG_FILE).read_text())["lr"] == 0.001  # the refused run saved nothing
    assert sorted(p.name for p in out.iterdir()) == before  # nor added anything


def test_a_changed_setting_without_progress_starts_afresh(tmp_path):
    out = tmp_path / "run"
    opened(out)
    assert opened(out, progress=lambda: False, lr=0.01) is Resume.AFRESH
    assert json.loads((out / CONFIG_FILE).read_text())["lr"] == 0.01
    with pytest.raises(BortError, match="settings changed"):
        opened(out, progress=lambda: True, lr=0.1)


def test_restart_deletes_the_earlier_run(tmp_path):
    out = tmp_path / "run"
    opened(out)
    (out / "left-by-the-first-run.txt").write_text("x")
    run_dir = RunDirectory(out, config_file=CONFIG_FILE)
    with run_dir.open(ToyRun(out=str(out), lr=0.01, restart=True), restart=True) as state:
        assert state is Resume.NEW and run_dir.restarted
    run_dir.release()
    assert not (out / "left-by-the-first-run.txt").exists()
    assert json.loads((out / CONFIG_FILE).read_text())["lr"] == 0.01


def test_a_failed_set_up_saves_no_configuration_and_removes_what_it_added(tmp_path):
    out = tmp_path / "run"
    run_dir = RunDirectory(out, config_file=CONFIG_FILE)
    with pytest.raises(RuntimeError):
        with run_dir.open(ToyRun(out=str(out))):
            (out / "half-made").write_text("x")
            raise RuntimeError("the corpus was too small")
    assert not out.exists()


@pytest.mark.parametrize("anything, entry, refused", [(False, "config.json", True), (False, "notes.txt", False),
                                                      (True, "notes.txt", True)])
def test_a_directory_holding_another_model_or_run_is_refused(tmp_path, anything, entry, refused):
    out = tmp_path / "other"
    out.mkdir()
    (out / entry).write_text("{}")
    run_dir = RunDirectory(out, config_file=CONFIG_FILE)
    if refused:
        with pytest.raises(BortError, match=f"already holds {entry} from another model or run"):
            run_dir.check({}, anything=anything)
    else:
        run_dir.check({}, anything=anything)
    assert sorted(p.name for p in out.iterdir()) == [entry]


def test_an_output_that_is_an_input_is_refused(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(BortError, match="is --model"):
        RunDirectory(model, config_file=CONFIG_FILE).check({"--model": model})
    with pytest.raises(BortError, match="contains --model"):
        RunDirectory(tmp_path, config_file=CONFIG_FILE).check({"--model": model})


def test_checking_an_output_never_creates_or_removes_the_folder_itself(tmp_path, monkeypatch):
    """Under torchrun every process checks --out at once: a probe of the path itself could fail on another
    process's probe ("File exists") or remove the folder the main process has just claimed. The probe is a folder
    of its own name, removed at once."""
    import os

    from bort.util.run_dir import check_output_dir

    made = []
    real_mkdir = os.mkdir

    def recording(path, *args, **kwargs):
        made.append(Path(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", recording)
    check_output_dir(tmp_path / "run" / "inner")
    assert len(made) == 1 and made[0].parent == tmp_path and made[0].name.startswith(".bort-probe-")
    assert not (tmp_path / "run").exists() and os.listdir(tmp_path) == []
    with pytest.raises(BortError, match="cannot be created"):
        check_output_dir("/proc/bort-nowhere/run")
