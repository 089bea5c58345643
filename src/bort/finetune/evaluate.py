"""Scoring a fine-tuned classifier on a task's split, and writing leaderboard files.

Used by ``bort evaluate`` and by anything that needs a model's official scores on a split
(fine-tuning's held-out report, Agora's Socrates check).
"""

from __future__ import annotations

from pathlib import Path

from bort.checkpoint import check_fits, load_classifier, load_config
from bort.errors import BortError
from bort.finetune.config import EvaluateConfig, FinetuneConfig
from bort.tasks.encode import model_outputs
from bort.tasks import get_task
from bort.tasks.custom import CUSTOM, check_custom_options, resolve_task
from bort.tasks.labels import label_order
from bort.tasks.layout import benchmark_tasks, run_name, task_folder
from bort.tasks.predict import score, submission_records
from bort.tasks.spec import TaskSpec
from bort.tasks.submission import write_submission
from bort.tokenizer import load_tokenizer
from bort.util.run_dir import check_output_dir, check_output_file


def saved_max_len(model_dir: str | Path, task: TaskSpec) -> int:
    """The tokens per example the model was fine-tuned with, when bort fine-tuned it; else the task's default."""
    saved = Path(model_dir) / "finetune_config.json"
    return (FinetuneConfig.load(saved).max_len if saved.is_file() else None) or task.max_len


def load_for_task(model_dir: str | Path, task: TaskSpec):
    """A fine-tuned classifier and its tokenizer, checked against the task's number of labels."""
    model = load_classifier(model_dir)
    if model.config.num_labels != task.num_labels:
        raise BortError(f"{model_dir} predicts {model.config.num_labels} labels; {task.name} needs {task.num_labels}")
    return model, load_tokenizer(model_dir)


def metrics_path(cfg: EvaluateConfig) -> Path:
    """Where ``bort evaluate`` saves the metrics: ``--out``, else ``./eval-MODEL-TASK-SPLIT/metrics.json`` in the
    current directory, never inside the model directory it reads (a command that reads a model does not change it).
    A custom task's predictions go beside the metrics unless ``--submission`` says otherwise."""
    if cfg.out:
        return Path(cfg.out)
    model = Path(cfg.model or "model").resolve().name
    return Path(f"eval-{model}-{(cfg.task or 'all').replace('/', '-')}-{cfg.split}") / "metrics.json"


def check_outputs(out: str | Path | None, submission: str | Path | None) -> None:
    """Where evaluation writes, checked before any model is loaded."""
    if out:
        check_output_file(out)
    if submission:
        check_output_dir(submission, "--submission")


def evaluate(model_dir: str | Path, task: TaskSpec, data_dir: str | Path, split: str = "dev",
             submission: str | Path | None = None, batch_size: int = 32, max_len: int | None = None) -> dict:
    """Every official metric of ``task`` on a labelled split, and/or its leaderboard file in ``submission``."""
    examples = task.read(Path(data_dir), split)
    model, tokenizer = load_for_task(model_dir, task)
    max_len = max_len or saved_max_len(model_dir, task)
    check_fits(Path(model_dir), model.config, tokenizer, max_len)
    order = label_order(model.config, task, model_dir)  # refused before the long part, not after
    outputs = model_outputs(model, tokenizer, examples, max_len, batch_size)
    if order is not None:
        outputs = outputs[:, order]  # columns in the task's label order
    result = {"task": task.name, "split": split, "examples": len(examples)}
    if all(ex.label is not None for ex in examples):
        result["metrics"] = score(task, examples, outputs)
    if submission:
        result["submission"] = str(write_submission(task, submission_records(task, examples, outputs),
                                                    Path(submission)))
    return result


def evaluate_config(cfg: EvaluateConfig) -> dict:
    """``bort evaluate`` on one task: a registered task's official split, or (``--task custom``) the user's file of
    that split, with the model's own classes; a custom task's predictions are always written (to ``--submission``,
    or beside the metrics: :func:`metrics_path`)."""
    if not cfg.task:
        raise BortError("--task is required (or --all BENCHMARK)")
    if not cfg.model or not (cfg.data or cfg.task == CUSTOM):
        raise BortError("--model and --data are required "
                        "(or --list; --task custom reads --dev, --test or --train instead)")
    check_outputs(metrics_path(cfg), cfg.submission)
    for flag, path in (("--out", metrics_path(cfg)), ("--submission", cfg.submission)):
        if path and Path(cfg.model).resolve() in Path(path).resolve().parents:
            raise BortError(f"{flag} {path} lies inside the model directory {cfg.model}, which evaluate reads and "
                            "never writes; choose another place")
    submission = cfg.submission
    if cfg.task == CUSTOM:
        check_custom_options(cfg, CUSTOM, need=(cfg.split,))
        task = resolve_task(cfg, load_config(cfg.model))
        submission = submission or metrics_path(cfg).parent
    else:
        check_custom_options(cfg, cfg.task, need=())
        task = get_task(cfg.task)
    return evaluate(cfg.model, task, cfg.data or "", cfg.split, submission, cfg.batch_size, cfg.max_len)


def evaluate_benchmark(benchmark: str, runs_dir: str | Path, benchmark_dir: str | Path, split: str,
                       submission: str | Path, batch_size: int = 32, max_len: int | None = None) -> list[dict]:
    """The leaderboard files of every task of ``benchmark`` (glue or superglue) that has a model and data.

    ``runs_dir`` holds one fine-tuned model per task, named as the task (RTE, MNLI, STS-B, ...);
    diagnostic sets use the model of the task that scores them. Returns one row per task with its
    status (written or skipped, and why).
    """
    rows = []
    for task in benchmark_tasks(benchmark):
        scorer = get_task(task.scored_by) if task.scored_by else task
        model_dir = Path(runs_dir) / run_name(scorer)
        folder = task_folder(task, Path(benchmark_dir))
        data = task.path(folder, split)
        if not (model_dir / "config.json").is_file():
            rows.append({"task": task.name, "status": "skipped", "detail": f"no model at {model_dir}"})
        elif not data.exists():
            rows.append({"task": task.name, "status": "skipped", "detail": f"no {data}"})
        else:
            result = evaluate(model_dir, task, folder, split, submission, batch_size, max_len)
            rows.append({"task": task.name, "status": "written", "detail": result["submission"]})
    return rows
