"""The front door: `bort quickstart` plans the shipped pipeline with its options (fast, in the suite), and runs every
stage end to end with few steps (slow: `make demo-check`, which `.ci/run` runs after the suite)."""

import json
import os
import subprocess
import sys

import pytest


def test_the_quickstart_plans_the_shipped_pipeline_with_its_options(real_model_dir, tmp_path):
    from bort.pipeline.stages import plan
    from bort.quickstart import QuickstartConfig, quickstart_pipeline

    cfg = QuickstartConfig(teacher_steps=7, student_steps=9, search_steps=2, finetune_epochs=1, task_teacher_epochs=2)
    stages = {stage.name: stage.config for stage in plan(quickstart_pipeline(tmp_path / "qs", real_model_dir, cfg))}
    assert list(stages) == ["teacher_mlm", "search", "extract", "distil", "task:sst2:teacher", "task:sst2:student",
                            "export", "export_teacher", "bench"]  # Agora off unless --agora
    # the fine-tuned teacher served the same way as the student (the report's and the plot's fourth point)
    assert stages["export_teacher"].model_dir == str(tmp_path / "qs" / "tasks" / "sst2" / "teacher")
    assert stages["export_teacher"].candidates == stages["export"].candidates
    assert (stages["teacher_mlm"].max_steps, stages["distil"].max_steps, stages["search"].steps) == (7, 9, 2)
    assert (stages["task:sst2:student"].epochs, stages["task:sst2:teacher"].epochs) == (1, 2)
    assert stages["task:sst2:student"].teacher == str(tmp_path / "qs" / "tasks" / "sst2" / "teacher")
    assert stages["distil"].init == str(tmp_path / "qs" / "extract") and stages["search"].init == "extract"
    agora = plan(quickstart_pipeline(tmp_path / "qs", real_model_dir, QuickstartConfig(agora=True)))
    assert "task:sst2-agora:student" in [stage.name for stage in agora]


def test_the_quickstart_searches_on_sst2_against_its_fine_tuned_teacher_when_asked(real_model_dir, tmp_path):
    """--search-task: the SST-2 teacher fine-tuned first, the search scored on the task against it (no corpus), the
    corpus extraction taking the search's shape but not its (the fine-tuned teacher's) scores."""
    from bort.pipeline.stages import plan
    from bort.quickstart import SEARCH_TASK_TITLES, QuickstartConfig, quickstart_pipeline

    stages = plan(quickstart_pipeline(tmp_path / "qs", real_model_dir, QuickstartConfig(search_task=True)))
    names = [stage.name for stage in stages]
    assert names[:4] == ["teacher_mlm", "task:sst2:teacher", "search", "extract"]
    assert set(SEARCH_TASK_TITLES) <= set(names)  # each title shown before a stage that runs
    search = stages[2].config
    assert (search.task, search.teacher, search.corpus) == ("glue/SST-2", str(tmp_path / "qs" / "tasks" / "sst2" /
                                                                             "teacher"), None)
    assert search.data == stages[1].config.data and stages[3].config.scores is None
    assert names.count("task:sst2:teacher") == 1


@pytest.mark.slow  # about 4 minutes: `make demo-check`, run by .ci/run after the suite
def test_quickstart_end_to_end(tmp_path, real_model_dir):
    out = tmp_path / "qs"
    result = subprocess.run(
        [sys.executable, "-m", "bort.cli.main", "quickstart", "--out", str(out), "--teacher-steps", "4",
         "--student-steps", "4", "--search-steps", "1", "--finetune-epochs", "1", "--task-teacher-epochs", "1",
         "--real-model", str(real_model_dir),
         "--bench-models", "bort", "--bench-fast-paths", "onnx-fused-int8"],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for step in range(1, 9):
        assert f"=== [{step}/8]" in result.stdout
    assert "held-out MLM accuracy" in result.stdout and "held-out SST-2 accuracy" in result.stdout
    assert "% of the teacher's" in result.stdout and "Agora: off" in result.stdout
    bench = json.loads((out / "bench-paper" / "bench.json").read_text())
    assert {n for n, row in bench["rows"].items() if row["kind"] == "model"} == {"bort"}
    fused = bench["cells"][0]["rows"]["bort onnx-fused-int8"]
    ratio = fused["ratio_to_subject"]
    assert ratio["low"] <= ratio["median"] <= ratio["high"]  # timed in interleaved rounds, with an interval
    assert fused["cosine"] > 0.999
    best = json.loads((out / "search" / "best" / "config.json").read_text())
    student = json.loads((out / "distil" / "config.json").read_text())
    # the search's choice was distilled
    assert [student[k] for k in ("num_hidden_layers", "hidden_size", "intermediate_size")] == \
        [best[k] for k in ("num_hidden_layers", "hidden_size", "intermediate_size")]
    assert (out / "distil" / "model.safetensors").is_file() and (out / "teacher" / "model.safetensors").is_file()
    # With the real model, the student was cut out of the teacher (its weights), and the search ranked such starts.
    extraction = json.loads((out / "extract" / "extraction.json").read_text())
    assert extraction["arch"] == [best[k] for k in ("num_hidden_layers", "num_attention_heads", "hidden_size",
                                                    "intermediate_size")]
    assert json.loads((out / "search" / "search_config.json").read_text())["init"] == "extract"
    assert json.loads((out / "distil" / "pretrain_config.json").read_text())["init"] == str(out / "extract")
    # The fine-tuned student was served by the fastest path that keeps its outputs and its dev score.
    served = json.loads((out / "export" / "export.json").read_text())
    chosen = served["candidates"][served["path"]]
    assert chosen["cosine"] >= 0.999 and chosen["points_lost"] <= 0.5 and "chose" in result.stdout
    assert len(served["candidates"]) == 6 and served["bar"]["task"] == "glue/SST-2"
    metrics = json.loads((out / "tasks" / "sst2" / "student" / "metrics.json").read_text())
    assert metrics["task"] == "glue/SST-2" and metrics["dev_examples"] + len(metrics["held_out_metrics"]) > 0
    # The student learnt the task from the teacher fine-tuned on it (task distillation), judged on the same H.
    assert metrics["teacher"] == str(out / "tasks" / "sst2" / "teacher") and metrics["alpha"] == 0.9
    teacher_metrics = json.loads((out / "tasks" / "sst2" / "teacher" / "metrics.json").read_text())
    assert teacher_metrics["held_out"] == metrics["held_out"]  # the same half of dev
    # The teacher continued the real model (its vocabulary).
    teacher = json.loads((out / "teacher" / "config.json").read_text())
    assert teacher["model_type"] == "bert" and teacher["vocab_size"] == 30522 and teacher["hidden_size"] == 384
    # Stages 3 to 8 were the shipped pipeline file: its report compares the student with the teacher.
    report = (out / "report.md").read_text()
    assert "## Tasks" in report and "plain + task KD" in report and "the teacher takes **" in report
    assert not (out / "tasks" / "sst2-agora").exists()  # Agora is off unless --agora
    state = json.loads((out / "pipeline_state.json").read_text())["stages"]
    assert all(record["done"] for record in state.values()) and len(state) == 9
    # the teacher served: its export, its line in the report, and the plot
    teacher_served = json.loads((out / "export-teacher" / "export.json").read_text())
    assert teacher_served["candidates"][teacher_served["path"]]["cosine"] >= 0.999
    assert "The teacher served the same way" in report and "the fine-tuned teacher, served the same way" in \
        result.stdout and (out / "pipeline.png").is_file()
