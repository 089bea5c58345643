"""`bort pipeline`: a user's CSV task and JSON-lines corpus from the real MiniLM teacher to a served student.

One pipeline is run end to end on small data (the real teacher given an MLM head, a two-candidate
search, extraction, distillation stopped part-way and continued, the custom task fine-tuned for the
student and the teacher, export, bench); the tests then read what it wrote, and what a re-run
after each kind of edit would do.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import accuracy_score

from bort.cli.main import main
from bort.data import CUSTOM_TASK_DIR


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def base_config(root: Path, teacher: Path) -> dict:
    return {
        "out": str(root / "run"), "teacher": str(teacher), "corpus": [str(root / "corpus.jsonl")], "text_field": "body",
        "teacher_mlm": {"max_steps": 2, "seq_len": 32, "batch_size": 4, "eval_every": 2, "save_every": 2,
                        "val_batches": 1},
        "search": {"space": str(root / "space.yaml"), "init": "extract", "steps": 2, "seq_len": 32, "batch_size": 4,
                   "val_batches": 1, "latency": "flops"},
        "extract": {},
        "distil": {"max_steps": 4, "seq_len": 32, "batch_size": 4, "eval_every": 2, "save_every": 2,
                   "val_batches": 1, "stop_after": 2},
        "tasks": [{"name": "qnli", "task": "custom", "train": str(root / "train.csv"), "dev": str(root / "dev.csv"),
                   "test": str(root / "test.csv"), "text_column": "question", "text_pair_column": "sentence",
                   "epochs": 1, "max_train_examples": 32, "max_len": 32}],
        "export": {"candidates": ["eager", "torch-int8"], "rounds": 1, "max_rounds": 2, "max_seconds": 2,
                   "serve_teacher": True},
        "bench": {"lengths": [16], "rounds": 1, "max_rounds": 2, "warmup_runs": 0, "max_seconds": 2},
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shared_data, real_model_dir):
    """The user's folder: a JSON-lines corpus (paragraphs of a novel under "body"), the shipped CSV task (dev
    trimmed to 48 rows), a two-tuple search space, and the pipeline file."""
    root = tmp_path_factory.mktemp("pipeline")
    text = (shared_data / "text" / "gutenberg" / "1342-0.txt").read_text(encoding="utf-8-sig")[:150_000]
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    (root / "corpus.jsonl").write_text("".join(json.dumps({"body": p}) + "\n" for p in paragraphs))
    (root / "train.csv").write_text((CUSTOM_TASK_DIR / "train.csv").read_text())
    dev = (CUSTOM_TASK_DIR / "dev.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "dev.csv").write_text("".join(dev[:49]))
    (root / "test.csv").write_text("".join(dev[:1] + dev[49:101]))  # labelled, and apart from what selects
    (root / "space.yaml").write_text("depths: [1]\nheads: [4]\nhiddens: [128]\nintermediates: [256, 512]\n")
    config = base_config(root, real_model_dir)
    return root, write_config(root / "pipeline.yaml", config), config


def run(*args) -> int:
    return main(["pipeline", *map(str, args)])


@pytest.fixture(scope="module")
def finished(workspace):
    """The pipeline run twice: stopped by distil's --stop-after, then (stop_after removed) continued to the end."""
    root, path, config = workspace
    assert run(path) == 0
    state = json.loads((root / "run" / "pipeline_state.json").read_text())
    first = {name: record["done"] for name, record in state["stages"].items()}
    assert not (root / "run" / "report.md").exists()
    del config["distil"]["stop_after"]
    write_config(path, config)
    assert run(path, "--dry-run") == 0
    assert run(path) == 0
    return root, path, config, first


def test_a_dry_run_writes_nothing_and_names_each_stages_command(workspace, capsys):
    root, path, _ = workspace
    if (root / "run").exists():
        pytest.skip("ordered first: the module's pipeline already ran")
    assert run(path, "--dry-run") == 0
    printed = capsys.readouterr().out
    assert not (root / "run").exists()
    names = ["teacher_mlm", "search", "extract", "distil", "task:qnli:teacher", "task:qnli:student", "export",
             "export_teacher", "bench"]
    for name in names:
        assert f"{name}" in printed
    assert printed.count("run       (not run yet)") == len(names)
    assert "bort search --teacher" in printed and "--text-field body" in printed
    assert f"--train {root / 'train.csv'}" in printed and "--text-pair-column sentence" in printed


def test_the_first_run_stopped_at_distil_and_the_second_continued_it(finished, capsys):
    root, _, _, first = finished
    assert first == {"teacher_mlm": True, "search": True, "extract": True, "distil": False}
    state = json.loads((root / "run" / "pipeline_state.json").read_text())
    assert all(record["done"] for record in state["stages"].values()) and len(state["stages"]) == 9
    distil = state["stages"]["distil"]["result"]
    assert distil["step"] == 4 and distil["finished"]
    metrics = [json.loads(line) for line in (root / "run" / "distil" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "val_mlm_accuracy" in m] == [2, 4]  # steps 1-2 kept, 3-4 added


def test_the_report_states_the_student_against_the_teacher(finished):
    from bort.architecture import Arch
    from bort.architecture.counting import count_params
    from bort.architecture.hf_config import arch_of, vocab_of
    from transformers import AutoConfig

    root = finished[0]
    report = (root / "run" / "report.md").read_text()
    state = json.loads((root / "run" / "pipeline_state.json").read_text())["stages"]
    arch = state["extract"]["result"]["arch"]
    assert AutoConfig.from_pretrained(root / "run" / "extract").num_hidden_layers == arch[0] == 1
    teacher = AutoConfig.from_pretrained(root / "run" / "teacher")
    student_params = count_params(Arch(*arch), vocab_of(teacher)).total
    assert f"⟨{','.join(map(str, arch))}⟩ cut out of the teacher's ⟨6,12,384,1536⟩" in report
    assert f"{student_params / 1e6:.2f}M parameters" in report
    assert f"{count_params(arch_of(teacher), vocab_of(teacher)).total / 1e6:.2f}M parameters" in report
    student = json.loads((root / "run" / "tasks" / "qnli" / "student" / "metrics.json").read_text())
    teacher_score = json.loads((root / "run" / "tasks" / "qnli" / "teacher" / "metrics.json").read_text())
    share = 100 * student["dev"]["accuracy"] / teacher_score["dev"]["accuracy"]
    # The speed column: the median of the bench run's per-round ratios (teacher's time over the student's).
    rows = state["bench"]["result"]["raw"]["cells"][0]["rows"]
    teacher_rounds = rows[str(Path(finished[2]["teacher"]).resolve())]["rounds_ms"]
    student_rounds = rows[state["bench"]["result"]["subject"]]["rounds_ms"]
    speed = float(np.median(np.array(teacher_rounds) / np.array(student_rounds)))
    assert (f"| {student['dev']['accuracy']:.4f} | {teacher_score['dev']['accuracy']:.4f} | {share:.1f}% | "
            f"{speed:.2f}× |") in report
    assert "Note (qnli)" not in report  # one epoch: nothing to say about more
    # The task's fine-tuned teacher taught the student on the task (task distillation is the default).
    tuned = json.loads((root / "run" / "tasks" / "qnli" / "student" / "finetune_config.json").read_text())
    assert tuned["teacher"] == str(root / "run" / "tasks" / "qnli" / "teacher") and student["alpha"] == 0.9
    assert "| plain + task KD |" in report
    # The labelled test file: both models predicted it once, scored here again with scikit-learn.
    gold = [row["label"] for row in csv.DictReader(open(root / "test.csv", encoding="utf-8"))]
    accuracy = {}
    for model in ("student", "teacher"):
        folder = root / "run" / "tasks" / "qnli" / model
        names = json.loads((folder / "config.json").read_text())["id2label"]
        predicted = [names[str(json.loads(line)["prediction"])]
                     for line in (folder / "test_predictions.jsonl").read_text().splitlines()]
        accuracy[model] = accuracy_score(gold, predicted)
        assert json.loads((folder / "metrics.json").read_text())["test_metrics"]["accuracy"] == pytest.approx(
            accuracy[model])
    share = 100 * accuracy["student"] / accuracy["teacher"]
    assert f"| qnli | {len(gold)} | {accuracy['student']:.4f} | {accuracy['teacher']:.4f} | {share:.1f}% |" in report
    assert "the teacher takes **" in report and "Served: `" in report
    # The teacher served the same way (export.serve_teacher): the task's fine-tuned teacher, beside the student.
    served_teacher = json.loads((root / "run" / "export-teacher" / "export.json").read_text())
    assert served_teacher["config"]["model_dir"] == str(root / "run" / "tasks" / "qnli" / "teacher")
    assert f"The teacher served the same way: `{served_teacher['path']}`" in report
    assert "The teacher served is not on the plot" not in report
    assert (root / "run" / "pipeline.png").is_file()
    for stage in ("teacher_mlm", "search", "extract", "distil", "export", "bench"):
        assert state[stage]["command"].startswith("bort ") and state[stage]["command"] in report


def test_the_report_tells_of_a_student_still_improving_at_its_last_epoch(finished, tmp_path):
    """The student's run said it was best at its last epoch (``more_epochs``): the report repeats it under the
    task table, with the key to set in the pipeline file."""
    import dataclasses

    from bort.pipeline.config import load_pipeline
    from bort.pipeline.report import write_report
    from bort.pipeline.stages import plan

    root, path = finished[0], finished[1]
    records = json.loads((root / "run" / "pipeline_state.json").read_text())["stages"]
    records["task:qnli:student"]["result"]["raw"].update(more_epochs="still improving", epochs=5)
    cfg = dataclasses.replace(load_pipeline(path), out=str(tmp_path))  # (the run's own report left as it is)
    report = write_report(cfg, plan(load_pipeline(path)), records).read_text()
    assert "|\n\nNote (qnli): still improving (`epochs: 10` in the task's entry).\n" in report


def test_every_model_directory_has_a_card_and_the_export_loads(finished):
    from huggingface_hub import ModelCard

    import bort.inference

    root = finished[0] / "run"
    for folder in ("teacher", "extract", "distil", "tasks/qnli/student", "tasks/qnli/teacher", "export",
                   "export-teacher"):
        card = ModelCard.load(root / folder / "README.md")
        assert card.data.library_name == "transformers", folder
    served = bort.inference.load(root / "export")
    assert served is not None


def test_a_rerun_reuses_everything_and_edits_restart_from_the_first_changed_stage(finished, capsys):
    root, path, config, _ = finished
    capsys.readouterr()
    assert run(path, "--dry-run") == 0
    assert capsys.readouterr().out.count("reuse") == 9
    edited = {**config, "tasks": [{**config["tasks"][0], "epochs": 2}]}
    write_config(root / "edited.yaml", edited)
    assert run(root / "edited.yaml", "--dry-run") == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("    ")]
    actions = {line.split()[0]: line.split()[1] for line in lines}
    assert actions == {"teacher_mlm": "reuse", "search": "reuse", "extract": "reuse", "distil": "reuse",
                       "task:qnli:teacher": "run", "task:qnli:student": "run", "export": "run",
                       "export_teacher": "run", "bench": "run"}
    assert "settings changed: epochs" in "\n".join(lines)
    # An edited input file restarts the stages that read it, not the ones before.
    rows = (root / "train.csv").read_text().splitlines(keepends=True)
    (root / "train.csv").write_text("".join(rows[:-1]))
    assert run(path, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "task:qnli:teacher        run       (its input files changed)" in out
    assert "distil                   reuse" in out


BAD = {
    "unknown key": ({"tasks_": []}, "unknown key 'tasks_'"),
    "unknown option": ({"distil": {"max_step": 3}}, "distil.max_step is not an option of bort pretrain"),
    "wired option": ({"distil": {"out": "x"}}, "distil.out is set by the pipeline"),
    "disabled dependency": ({"extract": {"enabled": False}}, "distil depends on extract, which is switched off"),
    "no arch without search": ({"search": None}, "extract depends on search, which is switched off"),
    "nan": ({"distil": {"lr": float("nan")}}, "distil.lr must be a finite number"),
    "not a number": ({"distil": {"max_steps": "three"}}, "distil.max_steps must be an integer, got 'three'"),
    "an Agora option for the teacher": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                    "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                                                    "teacher_score": {"theta": "paper"}}]},
                                        "tasks.theta is not an option of bort finetune"),
    "inf in a task": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                  "dev": str(CUSTOM_TASK_DIR / "dev.csv"), "lr": float("inf")}]},
                      "must be a finite number"),
    "missing column": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                   "dev": str(CUSTOM_TASK_DIR / "dev.csv"), "text_column": "body"}]},
                       "no column 'body' (--text-column); its columns are 'question', 'sentence', 'label'"),
    "a served teacher without a teacher": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                       "dev": str(CUSTOM_TASK_DIR / "dev.csv"), "teacher_score": False,
                                                       "text_column": "question", "text_pair_column": "sentence"}]},
                                           "export.serve_teacher needs the first task's fine-tuned teacher"),
    "task_extract not a mapping": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                               "dev": str(CUSTOM_TASK_DIR / "dev.csv"), "task_extract": "yes"}]},
                                   "tasks[0].task_extract must be true, false or a mapping"),
    "task_extract given a wired option": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                      "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                                                      "task_extract": {"teacher": "x"}}]},
                                          "tasks[0].task_extract.teacher is set by the pipeline"),
    "task_extract given an unknown option": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                         "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                                                         "task_extract": {"calibration_batch": 2}}]},
                                             "task_extract.calibration_batch is not an option of bort extract"),
    "task_extract without a teacher": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                   "dev": str(CUSTOM_TASK_DIR / "dev.csv"), "teacher_score": False,
                                                   "task_extract": True}]},
                                       "task_extract cuts its student out of the task's fine-tuned teacher"),
    "task_extract without a shape": ({"search": None, "extract": None, "distil": None, "bench": None,
                                      "tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                 "dev": str(CUSTOM_TASK_DIR / "dev.csv"), "task_extract": True}]},
                                     "task_extract takes the student's shape from extract.arch or the search, and "
                                     "neither is given"),
    "a search on a task the pipeline lacks": ({"search": {"task": "glue/SST-2", "init": "extract"}},
                                              "search.task 'glue/SST-2' is none of the pipeline's tasks (qnli)"),
    "a search on a task without its teacher": ({"search": {"task": "qnli"}, "export": None,
                                                "tasks": [{"name": "qnli", "task": "custom",
                                                           "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                           "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                                                           "teacher_score": False}]},
                                               "search.task scores candidates against task qnli's fine-tuned teacher"),
    "a search given the task's files": ({"search": {"task": "qnli", "dev": "x.csv"}},
                                        "search.dev: a search on a task reads the files of the task that search.task "
                                        "names"),
    "a search task that is no name": ({"search": {"task": ["qnli"]}},
                                      "search.task must be the name of one of the pipeline's tasks (text), got "
                                      "['qnli']"),
    "a search on a task switched off": ({"search": {"task": "qnli"}, "export": None,
                                         "tasks": [{"name": "qnli", "task": "custom", "enabled": False,
                                                    "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                    "dev": str(CUSTOM_TASK_DIR / "dev.csv")}]},
                                        "search.task 'qnli' names a task that is switched off (enabled: false)"),
    # Checked whole before the first folder is made: what a stage would only find out an hour in.
    "unknown task": ({"tasks": [{"task": "glue/NOPE", "data": str(CUSTOM_TASK_DIR)}]},
                     "task:NOPE:teacher: unknown task 'glue/NOPE'"),
    "misspelled placeholder": ({"corpus": ["{bort_dta}/corpus.txt"]}, "holds the unknown placeholder {bort_dta}"),
    "a corpus glob that matches nothing": ({"corpus": ["/nowhere/*.txt"]}, "corpus /nowhere/*.txt matches no file"),
    "task folder missing": ({"tasks": [{"task": "glue/SST-2", "data": "/nowhere/SST-2"}]},
                            "task:SST-2:teacher: data /nowhere/SST-2 does not exist"),
    "teacher model without a config": ({"tasks": [{"task": "custom", "train": str(CUSTOM_TASK_DIR / "train.csv"),
                                                   "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                                                   "text_column": "question", "text_pair_column": "sentence",
                                                   "teacher_model": str(CUSTOM_TASK_DIR)}]},
                                       "task:custom:student: teacher: "),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_pipeline_file_is_one_line_and_writes_nothing(case, workspace, tmp_path, capsys):
    root, _, config = workspace
    change, message = BAD[case]
    bad = {**json.loads(json.dumps(config)), "out": str(tmp_path / "out"), **change}
    bad = {k: v for k, v in bad.items() if v is not None}
    path = write_config(tmp_path / "bad.yaml", bad)
    assert run(path) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_a_pipeline_file_in_latin_1_is_refused(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_bytes("out: r\nteacher: caf\xe9\n".encode("latin-1"))
    assert run(path) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


def test_relative_paths_follow_the_current_directory_and_bort_data_the_package(tmp_path, monkeypatch, real_model_dir):
    from bort.data import DATA_DIR
    from bort.pipeline.config import load_pipeline

    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text("some text\n")
    path = write_config(tmp_path / "p.yaml", {"out": "run", "teacher": str(real_model_dir), "corpus": "text.txt",
                                              "tasks": [{"task": "glue/SST-2", "data": "{bort_data}/glue/SST-2"}]})
    cfg = load_pipeline(path)
    assert cfg.out == str(tmp_path / "run") and cfg.corpus == [str(tmp_path / "text.txt")]
    assert cfg.tasks[0]["data"] == str(DATA_DIR / "glue" / "SST-2") and cfg.tasks[0]["name"] == "SST-2"


def test_yaml_strings_are_read_as_the_options_types(workspace, tmp_path, capsys):
    """YAML reads 2e-5 (no dot) as a string: the pipeline reads it as the command line would."""
    _, _, config = workspace
    path = write_config(tmp_path / "p.yaml", {**config, "out": str(tmp_path / "out"),
                                              "distil": {**config["distil"], "lr": "2e-5", "max_steps": "4"}})
    assert run(path, "--dry-run") == 0
    assert "--lr 2e-05" in capsys.readouterr().out


def test_a_folder_the_pipeline_did_not_write_is_never_deleted(workspace, tmp_path, capsys):
    _, _, config = workspace
    (tmp_path / "out" / "search").mkdir(parents=True)
    (tmp_path / "out" / "search" / "mine.txt").write_text("the user's")
    path = write_config(tmp_path / "p.yaml", {**config, "out": str(tmp_path / "out")})
    assert run(path) == 2
    assert "already holds files this pipeline did not write" in capsys.readouterr().err
    assert (tmp_path / "out" / "search" / "mine.txt").read_text() == "the user's"


def test_a_stage_run_again_takes_the_later_stages_folders_with_their_records(finished, capsys):
    """Distillation changed and stopped part-way: what came after it is deleted with its record, so the next run
    neither reuses it nor mistakes its folder for the user's."""
    root, path, config, _ = finished
    edited = {**config, "distil": {**config["distil"], "max_steps": 6, "stop_after": 5}}
    write_config(root / "edited-distil.yaml", edited)
    assert run(root / "edited-distil.yaml") == 0
    state = json.loads((root / "run" / "pipeline_state.json").read_text())["stages"]
    assert list(state) == ["teacher_mlm", "search", "extract", "distil"] and not state["distil"]["done"]
    for folder in ("tasks/qnli/teacher", "tasks/qnli/student", "export", "bench"):
        assert not (root / "run" / folder).exists(), folder
    capsys.readouterr()
    assert run(root / "edited-distil.yaml", "--dry-run") == 0
    assert "distil                   continue" in capsys.readouterr().out


def test_a_benchmark_task_with_its_test_file_is_predicted_unless_switched_off(shared_data, real_model_dir, tmp_path):
    from bort.pipeline.config import parse_pipeline
    from bort.pipeline.stages import plan

    raw = {"out": str(tmp_path / "run"), "teacher": str(real_model_dir),
           "tasks": [{"task": "glue/SST-2", "data": str(shared_data / "glue" / "SST-2")},
                     {"task": "glue/RTE", "data": str(shared_data / "glue" / "RTE"), "predict_test": False},
                     {"task": "glue/MRPC", "data": str(tmp_path)}]}  # a folder without MRPC's test file
    stages = {stage.name: stage.config for stage in plan(parse_pipeline(raw, tmp_path / "p.yaml"))}
    assert stages["task:SST-2:teacher"].predict_test and stages["task:SST-2:student"].predict_test
    assert not stages["task:RTE:teacher"].predict_test and not stages["task:RTE:student"].predict_test
    assert not stages["task:MRPC:student"].predict_test


def test_the_shipped_agora_pipeline_runs_agora_on_the_quickstarts_student(real_model_dir, tmp_path):
    from bort.data import PIPELINES_DIR
    from bort.pipeline.config import parse_pipeline, read_yaml
    from bort.pipeline.stages import plan

    raw = read_yaml(PIPELINES_DIR / "agora.yaml")
    assert (raw["teacher"], raw["tasks"][0]["socrates"]) == ("runs/quickstart/distil",
                                                            "runs/quickstart/tasks/sst2/teacher")
    raw["teacher"] = raw["tasks"][0]["socrates"] = str(real_model_dir)  # the quickstart's outputs stand-ins
    stages = plan(parse_pipeline(raw, tmp_path / "agora.yaml"))
    assert [s.name for s in stages] == ["task:sst2-agora:student"]
    assert stages[0].config.method == "agora" and stages[0].config.socrates == str(real_model_dir)


def test_a_benchmark_task_file_that_cannot_be_read_is_refused_before_any_stage(workspace, shared_data, tmp_path,
                                                                              capsys):
    root, _, config = workspace
    folder = tmp_path / "RTE"
    folder.mkdir()
    (folder / "train.tsv").write_bytes((shared_data / "glue/RTE/train.tsv").read_bytes())
    (folder / "dev.tsv").write_bytes((shared_data / "glue/RTE/dev.tsv").read_text(encoding="utf-8").encode("utf-16"))
    bad = {**json.loads(json.dumps(config)), "out": str(tmp_path / "out"),
           "tasks": [{"task": "glue/RTE", "data": str(folder), "epochs": 1}]}
    assert run(write_config(tmp_path / "bad.yaml", bad)) == 2
    err = capsys.readouterr().err
    assert "dev.tsv is UTF-16 text" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_task_extract_cuts_each_students_shape_out_of_its_tasks_fine_tuned_teacher(workspace, tmp_path):
    """The chain per task: teacher fine-tuned → the pipeline student's shape cut out of it on the task's loss →
    the student distilled from that teacher, starting from the cut (not from the corpus-distilled student)."""
    from bort.pipeline.config import parse_pipeline
    from bort.pipeline.stages import plan

    root, _, config = workspace
    raw = {**json.loads(json.dumps(config)), "out": str(tmp_path / "run")}
    raw["tasks"] = [{**raw["tasks"][0], "task_extract": {"calibration_batches": 2}},
                    {**raw["tasks"][0], "name": "plain-student"}]
    stages = {stage.name: stage for stage in plan(parse_pipeline(raw, tmp_path / "p.yaml"))}
    tasks = tmp_path / "run" / "tasks"
    cut = stages["task:qnli:extract"].config
    assert (cut.teacher, cut.task, cut.train) == (str(tasks / "qnli" / "teacher"), "custom", str(root / "train.csv"))
    assert (cut.text_column, cut.text_pair_column) == ("question", "sentence")
    assert (cut.importance, cut.calibration_batches, cut.seq_len) == ("taylor", 2, 32)
    assert cut.student_config == str(tmp_path / "run" / "search" / "best" / "config.json")  # the search's shape
    student = stages["task:qnli:student"].config
    assert (student.model, student.teacher) == (str(tasks / "qnli" / "extract"), str(tasks / "qnli" / "teacher"))
    assert "task:plain-student:extract" not in stages
    assert stages["task:plain-student:student"].config.model == str(tmp_path / "run" / "distil")
    order = list(stages)
    assert order.index("task:qnli:teacher") < order.index("task:qnli:extract") < order.index("task:qnli:student")


def test_a_task_extract_pipeline_runs_and_reports_the_cut_student(real_model_dir, tmp_path):
    """Without corpus stages: the real MiniLM fine-tuned on the custom task, ⟨1,4,128,256⟩ cut out of it with its
    classifier, distilled from it; the report names the method and scores both on the same examples."""
    train = tmp_path / "train.csv"
    train.write_text((CUSTOM_TASK_DIR / "train.csv").read_text())
    raw = {"out": str(tmp_path / "run"), "teacher": str(real_model_dir),
           "tasks": [{"name": "qnli", "task": "custom", "train": str(train), "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                      "text_column": "question", "text_pair_column": "sentence", "epochs": 1,
                      "max_train_examples": 32, "max_len": 32,
                      "task_extract": {"arch": [1, 4, 128, 256], "calibration_batches": 1, "batch_size": 4}}]}
    assert run(write_config(tmp_path / "p.yaml", raw)) == 0
    cut = tmp_path / "run" / "tasks" / "qnli" / "extract"
    extraction = json.loads((cut / "extraction.json").read_text())
    assert extraction["arch"] == [1, 4, 128, 256] and extraction["classifier"] and extraction["task"] == "custom"
    student = json.loads((tmp_path / "run" / "tasks" / "qnli" / "student" / "finetune_config.json").read_text())
    assert student["model"] == str(cut) and student["teacher"] == str(tmp_path / "run" / "tasks" / "qnli" / "teacher")
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| qnli (custom) | plain + task-aware extraction + task KD |" in report


def test_a_search_on_a_task_comes_after_that_tasks_teacher_and_reads_its_files(workspace, tmp_path):
    """``search.task`` (a task's name, or its task when one entry has it): the task's teacher is fine-tuned first,
    once, and the search scores candidates against it on the task's own files, not the corpus; extraction on the
    corpus takes the search's shape but not its scores (they are the fine-tuned teacher's)."""
    from bort.pipeline.config import parse_pipeline
    from bort.pipeline.stages import plan

    root, _, config = workspace
    for given in ("qnli", "custom"):
        raw = {**json.loads(json.dumps(config)), "out": str(tmp_path / "run")}
        raw["search"] = {k: v for k, v in {**raw["search"], "task": given}.items() if k != "seq_len"}
        stages = plan(parse_pipeline(raw, tmp_path / "p.yaml"))
        names = [stage.name for stage in stages]
        assert names.count("task:qnli:teacher") == 1
        assert names.index("teacher_mlm") < names.index("task:qnli:teacher") < names.index("search")
        search = stages[names.index("search")].config
        teacher = tmp_path / "run" / "tasks" / "qnli" / "teacher"
        assert (search.task, search.teacher, search.corpus) == ("custom", str(teacher), None)
        assert (search.train, search.dev, search.test) == (str(root / "train.csv"), str(root / "dev.csv"), None)
        assert (search.text_column, search.text_pair_column) == ("question", "sentence")
        assert (search.seq_len, search.text_field) == (32, "text")  # the task's max_len; the corpus's field unused
        extract = stages[names.index("extract")].config
        assert extract.student_config == str(tmp_path / "run" / "search" / "best" / "config.json")
        assert extract.scores is None
        assert stages[names.index("task:qnli:student")].config.teacher == str(teacher)


def test_a_pipeline_searches_on_its_task_and_cuts_the_pick_out_of_the_tasks_teacher(real_model_dir, tmp_path,
                                                                                   capsys):
    """No corpus at all: the real MiniLM fine-tuned on the custom task, a two-candidate search scored on that task
    against it, the pick cut out of it with its classifier and distilled from it."""
    train = tmp_path / "train.csv"
    train.write_text((CUSTOM_TASK_DIR / "train.csv").read_text())
    (tmp_path / "space.yaml").write_text("depths: [1]\nheads: [4]\nhiddens: [128]\nintermediates: [256, 512]\n")
    raw = {"out": str(tmp_path / "run"), "teacher": str(real_model_dir),
           "search": {"task": "qnli", "space": str(tmp_path / "space.yaml"), "steps": 2, "seq_len": 32,
                      "batch_size": 4, "val_batches": 1, "latency": "flops"},
           "tasks": [{"name": "qnli", "task": "custom", "train": str(train), "dev": str(CUSTOM_TASK_DIR / "dev.csv"),
                      "text_column": "question", "text_pair_column": "sentence", "epochs": 1,
                      "max_train_examples": 32, "max_len": 32,
                      "task_extract": {"calibration_batches": 1, "batch_size": 4}}]}
    assert run(write_config(tmp_path / "p.yaml", raw)) == 0
    run_dir = tmp_path / "run"
    state = json.loads((run_dir / "pipeline_state.json").read_text())["stages"]
    assert list(state) == ["task:qnli:teacher", "search", "task:qnli:extract", "task:qnli:student"]
    search = json.loads((run_dir / "search" / "search_config.json").read_text())
    assert search["task"] == "custom" and search["teacher"] == str(run_dir / "tasks" / "qnli" / "teacher")
    ranking = list(csv.DictReader((run_dir / "search" / "ranking.csv").open()))
    assert len(ranking) == 2
    best = json.loads((run_dir / "search" / "best" / "config.json").read_text())
    extraction = json.loads((run_dir / "tasks" / "qnli" / "extract" / "extraction.json").read_text())
    assert extraction["arch"] == [best["num_hidden_layers"], best["num_attention_heads"], best["hidden_size"],
                                  best["intermediate_size"]]
    assert extraction["classifier"] and extraction["task"] == "custom"
    report = (run_dir / "report.md").read_text()
    best_w = state["search"]["result"]["best_scores"]["W"]
    assert f"Chosen by the search, of 2 candidates: best W {best_w:.4g} (ê on task qnli: each candidate's loss " \
        "against that task's fine-tuned teacher" in report
    capsys.readouterr()
    assert run(write_config(tmp_path / "p.yaml", raw)) == 0  # a re-run reuses every stage
    assert capsys.readouterr().out.count(": reuse (") == 4
