"""``bort evaluate``: official metrics on labelled splits, leaderboard files for test splits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTION = """\
Scores a fine-tuned model (a `bort finetune` run directory, or any HF sequence-classification
directory) on a task's labelled split with every official metric (printed, and saved as JSON), or
writes the leaderboard file for an unlabelled test split: GLUE TASK.tsv (index, prediction),
SuperGLUE TASK.jsonl ({"idx", "label"}; MultiRC and ReCoRD nested as the leaderboard expects).

--all writes the complete submission set of a benchmark: --data is the benchmark's folder (the
official download, e.g. glue_data/), --model a folder holding one run directory per task named as
the task (RTE, MNLI, STS-B, ...); the diagnostic sets use the model of the task that scores them
(AX: MNLI, AX-b and AX-g: RTE). Tasks without data or model are listed as skipped."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="official metrics and leaderboard submission files",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="RUN_DIR", help="a fine-tuned model directory (with --all: a folder of them)")
    p.add_argument("--task", help="e.g. glue/RTE (see --list)")
    p.add_argument("--data", metavar="TASK_DIR", help="the task's official folder (with --all: the benchmark's)")
    p.add_argument("--split", default="dev", help="dev, test or train (default: dev)")
    p.add_argument("--submission", metavar="OUT_DIR", help="write the leaderboard file(s) here")
    p.add_argument("--all", metavar="BENCHMARK", choices=["glue", "superglue"], help="every task of glue or superglue")
    p.add_argument("--out", metavar="FILE.json", help="where to save the metrics (default: RUN_DIR/eval-TASK-SPLIT.json)")
    p.add_argument("--batch-size", type=int, default=32, help="(default: %(default)s)")
    p.add_argument("--max-len", type=int, default=None, help="tokens per example (default: the run's)")
    p.add_argument("--list", action="store_true", help="list the tasks and their metrics")
    p.set_defaults(run=run)


def _load_classifier(model_dir: str, task):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from bort.checkpoint import check_model_dir
    from bort.errors import BortError

    path = check_model_dir(model_dir)
    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    if not any(a.endswith("ForSequenceClassification") for a in (config.architectures or [])):
        raise BortError(f"{path} has no classification head (config.json architectures: {config.architectures}); "
                        "fine-tune it first with `bort finetune`")
    if config.num_labels != task.num_labels:
        raise BortError(f"{path} predicts {config.num_labels} labels; {task.name} needs {task.num_labels}")
    model = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    saved = path / "finetune_config.json"
    max_len = json.loads(saved.read_text())["max_len"] if saved.is_file() else 256
    return model.eval(), tokenizer, max_len


def evaluate_one(model_dir: str, task, data_dir: Path, split: str, submission: Path | None, batch_size: int,
                 max_len: int | None) -> dict:
    from bort.finetune.encode import model_outputs
    from bort.tasks.predict import score, submission_records
    from bort.tasks.submission import write_submission

    examples = task.read(data_dir, split)
    model, tokenizer, saved_len = _load_classifier(model_dir, task)
    outputs = model_outputs(model, tokenizer, examples, max_len or saved_len, batch_size)
    result = {"task": task.name, "split": split, "examples": len(examples)}
    if all(ex.label is not None for ex in examples):
        result["metrics"] = score(task, examples, outputs)
    if submission:
        result["submission"] = str(write_submission(task, submission_records(task, examples, outputs), submission))
    return result


def run(args) -> int:
    from bort.errors import BortError
    from bort.tasks import TASKS, get_task
    from bort.tasks.layout import benchmark_tasks, run_name, task_folder
    from bort.util.io import write_json_atomic
    from bort.util.table import format_table

    if args.list:
        print(format_table(["task", "kind", "metrics", "submission", "scored by"],
                           [[t.name, t.kind, ", ".join(t.metrics), t.submission, t.scored_by or ""] for t in TASKS.values()]))
        return 0
    if not args.model or not args.data:
        raise BortError("--model and --data are required (or --list)")
    if args.all:
        if not args.submission:
            raise BortError("--all writes a submission set: give --submission OUT_DIR")
        rows = []
        for task in benchmark_tasks(args.all):
            scorer = get_task(task.scored_by) if task.scored_by else task
            model_dir = Path(args.model) / run_name(scorer)
            folder = task_folder(task, Path(args.data))
            if not (model_dir / "config.json").is_file() or not task.path(folder, args.split).exists():
                rows.append([task.name, "skipped", f"no model at {model_dir}" if not (model_dir / "config.json").is_file()
                             else f"no {task.path(folder, args.split)}"])
                continue
            result = evaluate_one(str(model_dir), task, folder, args.split, Path(args.submission), args.batch_size,
                                  args.max_len)
            rows.append([task.name, "written", result["submission"]])
        print(format_table(["task", "status", "file"], rows))
        return 0
    if not args.task:
        raise BortError("--task is required (or --all BENCHMARK)")
    task = get_task(args.task)
    result = evaluate_one(args.model, task, Path(args.data), args.split, Path(args.submission) if args.submission else None,
                          args.batch_size, args.max_len)
    if "metrics" in result:
        print(format_table(["metric", "value"], [[k, f"{v:.4f}"] for k, v in result["metrics"].items()]))
        out = Path(args.out) if args.out else Path(args.model) / f"eval-{task.name.replace('/', '-')}-{args.split}.json"
        write_json_atomic(out, result)
        print(f"saved {out}")
    if "submission" in result:
        print(f"wrote {result['submission']} ({result['examples']} examples)")
    return 0
