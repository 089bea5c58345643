"""``bort evaluate``: official metrics on labelled splits, leaderboard files for test splits."""

from __future__ import annotations

from bort.config import HelpFormatter, add_options
from bort.finetune.config import EvaluateConfig

DESCRIPTION = """\
Scores a fine-tuned model (a `bort finetune` run directory, or any HF sequence-classification
directory) on a task's labelled split with every official metric (printed, and saved as JSON), or
writes the leaderboard file for an unlabelled test split: GLUE TASK.tsv (index, prediction),
SuperGLUE TASK.jsonl ({"idx", "label"}; MultiRC and ReCoRD nested as the leaderboard expects).

--all writes the complete submission set of a benchmark: --data is the benchmark's folder (the
official download, e.g. glue_data/), --model a folder holding one run directory per task named as
the task (RTE, MNLI, STS-B, ...); the diagnostic sets use the model of the task that scores them
(AX: MNLI, AX-b and AX-g: RTE). Tasks without data or model are listed as skipped.

--task custom scores a model fine-tuned on your own files: --split names the file (--dev, --test or
--train), the column flags say where its text (and label, when it has one) are, and every row's
prediction is written to predictions.jsonl (in --submission, or beside the metrics).

It writes only where it says: the metrics to --out FILE.json, or by default to
./eval-MODEL-TASK-SPLIT/metrics.json in the current directory, never into the model directory it
reads."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="official metrics and leaderboard submission files",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, EvaluateConfig)
    p.set_defaults(run=run, config_class=EvaluateConfig)


def run(cfg: EvaluateConfig) -> int:
    from bort.errors import BortError
    from bort.finetune.evaluate import check_outputs, evaluate_benchmark, evaluate_config, metrics_path
    from bort.tasks import TASKS
    from bort.util.io import write_json_atomic
    from bort.util.run_dir import make_dirs
    from bort.util.table import format_table

    if cfg.list:
        print(format_table(["task", "kind", "metrics", "submission", "scored by"],
                           [[t.name, t.kind, ", ".join(t.metrics), t.submission, t.scored_by or ""]
                            for t in TASKS.values()]))
        return 0
    if cfg.all:
        if not cfg.model or not cfg.data:
            raise BortError("--model and --data are required (or --list)")
        check_outputs(cfg.out, cfg.submission)
        if not cfg.submission:
            raise BortError("--all writes a submission set: give --submission OUT_DIR")
        rows = evaluate_benchmark(cfg.all, cfg.model, cfg.data, cfg.split, cfg.submission, cfg.batch_size, cfg.max_len)
        print(format_table(["task", "status", "file"], [[r["task"], r["status"], r["detail"]] for r in rows]))
        return 0
    result = evaluate_config(cfg)
    if "metrics" in result:
        print(format_table(["metric", "value"], [[k, f"{v:.4f}"] for k, v in result["metrics"].items()]))
        out = metrics_path(cfg)
        make_dirs(out.parent)
        write_json_atomic(out, result)
        print(f"saved {out}")
    if "submission" in result:
        print(f"wrote {result['submission']} ({result['examples']} examples)")
    return 0
