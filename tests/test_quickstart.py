"""The front door: `bort quickstart` runs every stage end to end (with few steps, to stay quick)."""

import json
import os
import subprocess
import sys


def test_quickstart_end_to_end(tmp_path):
    out = tmp_path / "qs"
    result = subprocess.run(
        [sys.executable, "-m", "bort.cli.main", "quickstart", "--out", str(out), "--teacher-steps", "4",
         "--student-steps", "4", "--search-steps", "1", "--finetune-epochs", "1"],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for step in range(1, 7):
        assert f"=== [{step}/6]" in result.stdout
    assert "held-out MLM accuracy" in result.stdout and "SST-2 dev accuracy" in result.stdout
    bench = json.loads((out / "bench" / "bench.json").read_text())
    assert set(bench["models"]) == {"roberta-large", "roberta-base", "bort"}
    best = json.loads((out / "search" / "best" / "config.json").read_text())
    student = json.loads((out / "student" / "config.json").read_text())
    assert [student[k] for k in ("num_hidden_layers", "hidden_size", "intermediate_size")] == \
        [best[k] for k in ("num_hidden_layers", "hidden_size", "intermediate_size")]  # the search's choice was distilled
    assert (out / "student" / "model.safetensors").is_file() and (out / "teacher" / "model.safetensors").is_file()
    metrics = json.loads((out / "sst2" / "metrics.json").read_text())
    assert metrics["task"] == "glue/SST-2" and metrics["dev_examples"] == 872
