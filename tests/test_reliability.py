"""Runs that survive what users do to them: torn logs, two runs on one directory, kill -9, re-runs that
continue, change what they may, refuse what they may not, and start over on --restart."""

from __future__ import annotations

import csv
import json
import shutil
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from bort.cli.main import main
from bort.training import train_state
from bort.util.io import append_log, read_log

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def bort(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True, env=ENV,
                          timeout=600, **kwargs)


def test_append_log_repairs_a_torn_last_line(tmp_path):
    log = tmp_path / "log.jsonl"
    for i in range(3):
        append_log(log, {"i": i, "text": "x" * 20})
    whole = log.read_bytes()
    log.write_bytes(whole[: len(whole) - 12])  # a kill in the middle of the third record
    append_log(log, {"i": 3})
    append_log(log, {"i": 4})
    assert [r["i"] for r in read_log(log)] == [0, 1, 3, 4]
    assert log.read_bytes().startswith(whole[: whole.index(b"\n", whole.index(b"\n") + 1) + 1])
    # A file holding only a fragment is emptied before the first whole record.
    lone = tmp_path / "lone.jsonl"
    lone.write_bytes(b'{"i": 0, "te')
    append_log(lone, {"i": 1})
    assert lone.read_text() == '{"i": 1}\n'


# ------------------------------------------------------------------------------------------- one run per directory
def command_line(command: str, inputs: dict, out: Path) -> list[str]:
    if command == "pretrain":
        return ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", inputs["text"], "--out", str(out),
                "--seq-len", "32", "--max-steps", "2", "--batch-size", "4"]
    if command == "search":
        return ["search", "--teacher", inputs["mlm"], "--corpus", inputs["text"], "--out", str(out), "--space",
                inputs["space"], "--seq-len", "32", "--latency", "flops", "--steps", "2", "--batch-size", "4"]
    return ["finetune", "--model", inputs["mlm"], "--task", "glue/RTE", "--data", inputs["rte"], "--out", str(out),
            "--epochs", "1", "--max-train-examples", "8", "--max-len", "32"]


@pytest.mark.parametrize("command", ["pretrain", "search", "finetune"])
def test_a_second_run_on_the_same_directory_is_refused_until_the_first_ends(command, prepared_inputs, tmp_path,
                                                                            capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from bort.util.run_dir import RunDirectory; "
                               "RunDirectory(sys.argv[1]).claim(); print('held', flush=True); time.sleep(120)",
                               str(out)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(command_line(command, prepared_inputs, out)) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"bort: error: {out} is in use by another bort run (process {holder.pid}); wait for it to " \
                      "end, or choose another --out"
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # the refused run wrote nothing
    finally:
        holder.send_signal(signal.SIGKILL)  # the OS releases the lock with the process, however it ends
        holder.wait()
    assert main(command_line(command, prepared_inputs, out)) == 0


# ------------------------------------------------------------------------------------------- fine-tuning resumes
def finetune_args(inputs: dict, out: Path, epochs: int = 12) -> list[str]:
    return ["finetune", "--model", inputs["mlm"], "--task", "glue/RTE", "--data", inputs["rte"], "--out", str(out),
            "--epochs", str(epochs), "--patience", str(epochs), "--max-train-examples", "64", "--max-len", "48",
            "--batch-size", "8", "--lr", "1e-3", "--dropout", "0.1"]


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.parametrize("distil", [False, True], ids=["plain", "teacher-and-augment"])
def test_finetune_killed_and_resumed_ends_as_an_uninterrupted_run(prepared_inputs, tmp_path, distil):
    """Plain, and distilled from a teacher with teacher-labelled copies (their log and the teacher's cache read
    back by the continued run)."""
    extra = ["--teacher", prepared_inputs["classifier"], "--augment", "1", "--phi", "word-swap"] if distil else []
    reference = tmp_path / "reference"
    assert bort(*finetune_args(prepared_inputs, reference), *extra).returncode == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "bort.cli.main", *finetune_args(prepared_inputs, killed), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 300
    steps = 32 if distil else 16  # two epochs' checkpoints (the copies double an epoch's steps)
    while time.time() < deadline and not any(train_state.step_of(p) >= steps
                                             for p in train_state.list_checkpoints(killed)):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "metrics.json").exists()
    epoch_at_kill = json.loads((train_state.list_checkpoints(killed)[-1] / "state.json").read_text())["epoch"]
    assert 2 <= epoch_at_kill < 12

    resumed = bort(*finetune_args(prepared_inputs, killed), *extra)  # the same command again
    assert resumed.returncode == 0, resumed.stderr
    expected, got = (json.loads((d / "metrics.json").read_text()) for d in (reference, killed))
    assert without_seconds(got["history"]) == without_seconds(expected["history"])
    assert got["best_epoch"] == expected["best_epoch"]
    # The last epoch's weights (the best model may predate the kill): equal bit for bit.
    a, b = (load_file(str(train_state.list_checkpoints(d)[-1] / "model" / "model.safetensors"))
            for d in (reference, killed))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    best = load_file(str(killed / "model.safetensors"))
    assert all(bool((best[k] == w).all()) for k, w in load_file(str(reference / "model.safetensors")).items())


def test_finetune_refuses_other_settings_keeps_a_finished_run_and_restarts_on_request(prepared_inputs, tmp_path,
                                                                                     capsys):
    out = tmp_path / "run"
    assert main(finetune_args(prepared_inputs, out, epochs=1)) == 0
    before = (out / "metrics.json").read_text()
    weights = (out / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(finetune_args(prepared_inputs, out, epochs=1) + ["--lr", "1e-4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "settings changed (lr " in err
    assert "finetune_config.json holds the original" in err and "--restart" in err
    assert (out / "metrics.json").read_text() == before
    # The same command again: the finished run is kept (nothing retrained), its metrics written again.
    assert main(finetune_args(prepared_inputs, out, epochs=1)) == 0
    assert without_seconds(json.loads((out / "metrics.json").read_text())["history"]) == \
        without_seconds(json.loads(before)["history"])
    assert (out / "model.safetensors").read_bytes() == weights
    # --restart: the earlier run deleted, a fresh one with the new settings.
    (out / "left-by-the-first-run.txt").write_text("x")
    assert main(finetune_args(prepared_inputs, out, epochs=1) + ["--lr", "1e-4", "--restart"]) == 0
    assert not (out / "left-by-the-first-run.txt").exists()
    assert json.loads((out / "finetune_config.json").read_text())["lr"] == 1e-4
    assert (out / "model.safetensors").read_bytes() != weights


# ------------------------------------------------------------------------------------------- pretraining resumes
def pretrain_args(inputs: dict, out: Path, steps: int, schedule: str) -> list[str]:
    return ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", inputs["text"], "--out", str(out),
            "--seq-len", "32", "--batch-size", "4", "--max-steps", str(steps), "--schedule", schedule,
            "--warmup-steps", "2", "--save-every", "2", "--eval-every", "2", "--log-every", "1"]


def test_pretrain_resume_may_extend_max_steps_when_the_schedule_does_not_depend_on_it(prepared_inputs, tmp_path,
                                                                                     capsys):
    straight, extended = tmp_path / "straight", tmp_path / "extended"
    assert main(pretrain_args(prepared_inputs, straight, 6, "noam")) == 0
    assert main(pretrain_args(prepared_inputs, extended, 4, "noam")) == 0
    assert main(pretrain_args(prepared_inputs, extended, 6, "noam")) == 0  # the same command, a longer --max-steps
    losses = [[r["loss"] for r in read_log(d / "metrics.jsonl")] for d in (straight, extended)]
    assert len(losses[0]) == 6 and losses[1] == losses[0]

    linear = tmp_path / "linear"
    assert main(pretrain_args(prepared_inputs, linear, 4, "linear")) == 0
    capsys.readouterr()
    assert main(pretrain_args(prepared_inputs, linear, 6, "linear")) == 2
    assert "settings changed (max_steps " in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- search resumes
def test_search_refuses_latencies_from_another_device_unless_told_to_remeasure(prepared_inputs, tmp_path, capsys):
    out = tmp_path / "search"
    args = ["search", "--teacher", prepared_inputs["mlm"], "--corpus", prepared_inputs["text"], "--out", str(out),
            "--space", prepared_inputs["space"], "--seq-len", "32", "--steps", "2", "--batch-size", "4",
            "--latency-repeats", "1", "--latency-seq-len", "16", "--latency-threads", "1"]
    assert main(args) == 0
    log = out / "latency.jsonl"
    records = read_log(log)
    assert len(records) == 3 and all(r["device"]["threads"] == 1 for r in records)
    # As if measured on another machine.
    log.write_text("".join(json.dumps({**r, "device": {**r["device"], "device_name": "Another CPU"}}) + "\n"
                           for r in records))
    capsys.readouterr()
    assert main(args) == 2  # the same command continues the search: not with latencies from elsewhere
    err = capsys.readouterr().err
    assert "latencies measured elsewhere (device_name 'Another CPU'" in err and "--latency-remeasure" in err
    # The candidates' saved î came from there too: the ranking must use the latencies measured again here.
    candidates = out / "candidates.jsonl"
    candidates.write_text("".join(json.dumps({**r, "latency": r["latency"] * 1000, "W": -1.0}) + "\n"
                                  for r in read_log(candidates)))
    assert main(args + ["--latency-remeasure"]) == 0
    assert all(r["device"]["device_name"] != "Another CPU" for r in read_log(log)) and len(read_log(log)) == 3
    fresh = {r["key"]: r["value"] for r in read_log(log)}
    with open(out / "ranking.csv") as f:
        rows = list(csv.DictReader(f))
    assert {float(r["latency"]) for r in rows} == {fresh[k] for k in fresh if k != "T"}
    assert all(float(r["W"]) != -1.0 for r in rows)


def test_a_search_that_failed_on_its_input_does_not_block_the_corrected_rerun(prepared_inputs, tmp_path, capsys):
    out = tmp_path / "search"
    args = ["search", "--teacher", prepared_inputs["mlm"], "--out", str(out), "--space", prepared_inputs["space"],
            "--seq-len", "32", "--latency", "flops", "--steps", "2", "--batch-size", "4"]
    assert main(args + ["--corpus", prepared_inputs["empty"]]) == 2
    assert not out.exists()
    assert main(args + ["--corpus", prepared_inputs["text"]]) == 0
    assert (out / "ranking.csv").is_file()


# ------------------------------------------------------------------------------------------- inputs stay untouched
@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_a_run_never_writes_into_its_own_input_or_another_model(command, prepared_inputs, tmp_path, capsys):
    """--out equal to the model it reads, containing it, or holding another model (a config.json this command
    did not write): refused with one line, nothing touched."""
    model = tmp_path / "model"
    shutil.copytree(prepared_inputs["mlm"], model)
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    if command == "finetune":
        line = ["finetune", "--model", str(model), "--task", "glue/RTE", "--data", prepared_inputs["rte"],
                "--epochs", "1", "--max-train-examples", "8", "--max-len", "32"]
    else:
        line = ["pretrain", "--mode", "mlm", "--init", str(model), "--corpus", prepared_inputs["text"], "--seq-len",
                "32", "--max-steps", "2", "--batch-size", "4"]
    flag = "--model" if command == "finetune" else "--init"
    for out, expected in ((model, f"is {flag}"), (tmp_path, f"contains {flag}")):
        capsys.readouterr()
        assert main(line + ["--out", str(out)]) == 2
        assert expected in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(prepared_inputs["classifier"], other)
    assert main(line + ["--out", str(other)]) == 2
    assert "already holds config.json from another model or run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert sorted(p.name for p in other.iterdir()) \
        == sorted(p.name for p in Path(prepared_inputs["classifier"]).iterdir())


def test_a_finetune_that_died_before_its_first_epoch_does_not_block_the_rerun(prepared_inputs, tmp_path):
    """A run killed in its first epoch leaves only its configuration: the rerun (with other settings, even)
    starts afresh instead of refusing the change for a run that has nothing to continue."""
    out = tmp_path / "ft"
    line = command_line("finetune", prepared_inputs, out)
    assert main(line) == 0
    shutil.rmtree(out / "checkpoints")
    for name in ("config.json", "model.safetensors", "metrics.json", "dev_predictions.jsonl"):
        (out / name).unlink()
    assert main(line + ["--lr", "1e-4"]) == 0
    assert json.loads((out / "finetune_config.json").read_text())["lr"] == 1e-4
    assert (out / "metrics.json").is_file()


def test_a_search_that_stopped_before_its_first_candidate_starts_over(prepared_inputs, tmp_path):
    out = tmp_path / "search"
    line = command_line("search", prepared_inputs, out)
    assert main(line) == 0
    (out / "candidates.jsonl").unlink()
    (out / "latency.jsonl").write_text(json.dumps({"key": "T", "value": -5.0}) + "\n")  # not this configuration's
    assert main(line + ["--steps", "3"]) == 0
    assert json.loads((out / "search_config.json").read_text())["steps"] == 3
    assert all(r["value"] > 0 for r in read_log(out / "latency.jsonl"))


def test_starting_afresh_never_deletes_a_directory_another_run_holds(tmp_path):
    """The quickstart deletes its old run directories before each stage; not while a run is using one."""
    from bort.errors import BortError
    from bort.util.run_dir import RunDirectory, remove_run_dir

    busy = tmp_path / "run"
    held = RunDirectory(busy).claim()
    (busy / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(BortError, match="in use by another bort run"):
        remove_run_dir(busy)
    assert (busy / "model.safetensors").read_bytes() == b"weights"
    held.release()
    remove_run_dir(busy)
    assert not busy.exists()
