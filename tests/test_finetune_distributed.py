"""`bort finetune` under torchrun: two gloo processes train what one does (task distillation and copies
included), the main process alone writes, and the teacher's cache is built once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from safetensors.torch import load_file

from bort.training import train_state

LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def finetune(inputs: dict, out, launcher: list[str]) -> subprocess.CompletedProcess:
    # 37 examples, their 37 copies and one unlabelled pair in batches of 8: each epoch ends on a batch of 3, which
    # the two processes share 1 and 2 (their losses weighed by their shares).
    unlabeled = out.parent / "unlabeled.csv"
    unlabeled.write_text("text,text_pair\nA man reads a book.,Someone is reading.\n")
    line = ["-m", "bort.cli.main", "finetune", "--model", inputs["mlm"], "--task", "glue/RTE", "--data", inputs["rte"],
            "--out", str(out), "--max-train-examples", "37", "--max-len", "32", "--batch-size", "8", "--epochs", "2",
            "--patience", "2", "--lr", "3e-3", "--dropout", "0", "--teacher", inputs["classifier"], "--augment", "1",
            "--phi", "word-swap", "--unlabeled", str(unlabeled)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launcher, *line], capture_output=True, text=True, env=env, timeout=600)


def test_two_processes_train_what_one_does(prepared_inputs, tmp_path):
    # No dropout anywhere (--dropout leaves attention's): each process draws its own masks.
    student = tmp_path / "student"
    shutil.copytree(prepared_inputs["mlm"], student)
    config = json.loads((student / "config.json").read_text())
    (student / "config.json").write_text(json.dumps({**config, "attention_probs_dropout_prob": 0.0}))
    prepared_inputs = {**prepared_inputs, "mlm": str(student)}
    one = finetune(prepared_inputs, tmp_path / "one", [sys.executable])
    assert one.returncode == 0, one.stderr[-2000:]
    two = finetune(prepared_inputs, tmp_path / "two", LAUNCH)
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("one", "two"))
    assert [h["accuracy"] for h in a["history"]] == [h["accuracy"] for h in b["history"]]
    assert a["augmented"]["copies"] == b["augmented"]["copies"] > 0
    wa, wb = (load_file(str(train_state.list_checkpoints(tmp_path / name)[-1] / "model" / "model.safetensors"))
              for name in ("one", "two"))
    # Two epochs at lr 3e-3 move the weights by ~1e-2: a process training on its half alone would be that far off.
    worst = max(float((wa[k] - wb[k]).abs().max()) for k in wa)
    assert worst < 1e-5, worst
    # Each process's RNG state was saved, and the teacher's cache holds each distinct input once (built once).
    assert {p.name for p in train_state.list_checkpoints(tmp_path / "two")[-1].glob("rng-*.pt")} == \
        {"rng-0.pt", "rng-1.pt"}
    keys = [json.loads(line)["key"] for line in (tmp_path / "two" / "teacher_outputs.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 37 + a["augmented"]["copies"] + 1 and a["augmented"]["copies"] == 37


def test_a_global_batch_the_processes_cannot_share_is_one_line(prepared_inputs, tmp_path):
    line = ["-m", "bort.cli.main", "finetune", "--model", prepared_inputs["mlm"], "--task", "glue/RTE", "--data",
            prepared_inputs["rte"], "--out", str(tmp_path / "odd"), "--batch-size", "7", "--epochs", "1",
            "--max-train-examples", "8", "--max-len", "32"]
    done = subprocess.run([*LAUNCH, *line], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0 and "must be divisible by the 2 processes" in done.stderr
    assert not (tmp_path / "odd").exists()
