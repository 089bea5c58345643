"""The pipeline's stages in order, each the config of the command it runs, wired to the stages before it.

teacher_mlm → search → extract → distil → for each task: the teacher fine-tuned (its score, Agora's Socrates, and
the teacher the student is distilled from on the task), with ``task_extract`` the student cut out of that teacher,
the student fine-tuned → export → bench. With ``search.task`` that task's teacher is fine-tuned before the search,
which scores candidates against it. Each stage writes only under its own subdirectory of ``out``; its config is what
:mod:`bort.pipeline.runner` compares on a re-run.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bort.api import FinetuneCommandConfig
from bort.config import Config, base_type
from bort.errors import BortError
from bort.extract.config import ExtractConfig
from bort.finetune.config import DISTILLATION, FinetuneConfig
from bort.inference.config import BenchConfig, ExportConfig
from bort.pipeline.config import TASK_FILES, PipelineConfig
from bort.pretrain.config import PretrainConfig
from bort.search.config import SearchConfig

# A task's files and columns, which a search on that task (``search.task``) reads as the task's stages do (not its
# test file: the search scores on dev inputs).
SEARCH_TASK_FILES = TASK_FILES - {"test"}


@dataclass(frozen=True)
class Stage:
    """One step: its name (``search``, ``task:sst2:student``, ...), the command it is, its config, its folder."""

    name: str
    command: str  # search, extract, pretrain, finetune, export, bench
    config: Config
    out: Path
    model: Path | None = None  # the model directory it produces, when it produces one


def _with_shared(config_class: type[Config], cfg: PipelineConfig, values: dict) -> dict:
    """``values`` plus the corpus's text field, for the stages whose command reads a corpus."""
    names = {f.name for f in dataclasses.fields(config_class)}
    if cfg.text_field is not None and "text_field" in names:
        values = {"text_field": cfg.text_field, **values}
    return values


def _as_field_type(field: dataclasses.Field, value, where: str):
    """A YAML value as the option's type, the way the command line would read it: YAML reads ``2e-5`` (no dot)
    and ``nan`` as strings, ``name: 2024`` as a number, and a lone list item as a scalar."""
    parse = field.metadata.get("parse")
    if parse is not None and isinstance(value, str):
        try:
            return parse(value)  # "3,8,256,1024" as on the command line
        except (BortError, argparse.ArgumentTypeError) as exc:
            raise BortError(f"{where}: {exc}")
    kind, is_list = base_type(field.type)
    if value is None:
        return None
    if is_list:
        return [_scalar(kind, v, where) for v in (value if isinstance(value, list) else [value])]
    return _scalar(kind, value, where)


def _scalar(kind: type, value, where: str):
    if kind is bool:
        if not isinstance(value, bool):
            raise BortError(f"{where} must be true or false, got {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise BortError(f"{where} must be a number, got {value!r}")
        try:
            number = kind(value) if kind is float or not isinstance(value, float) or value.is_integer() else None
        except ValueError:
            number = None
        if number is None:
            raise BortError(f"{where} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        return number
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _build(config_class: type[Config], cfg: PipelineConfig, section: dict, where: str, **wired) -> Config:
    """The stage's config: the section's options (as their types; ``where`` names the section in errors), then
    what the pipeline wires (which the section cannot set)."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    values = {key: _as_field_type(fields[key], value, f"{where}.{key}") for key, value in section.items()
              if key not in ("name", "teacher_score", "teacher_model", "task_distil", "task_extract",
                             "serve_teacher")}
    return config_class(**_with_shared(config_class, cfg, {**values, **wired}))


def distils(task: dict) -> bool:
    """Whether a task's student learns from the task's teacher: by default a plain student does, and Agora's
    students do not (each of its trainings would label its data again; ``task_distil: true`` asks for it)."""
    has_teacher = task.get("teacher_model") or task.get("teacher_score", True) is not False
    return bool(has_teacher) and task.get("task_distil", task.get("method", "plain") != "agora")


def has_test_split(task: dict) -> bool:
    """Whether a benchmark task's folder holds its official test file, which the pipeline then has the teacher and
    the student predict (a custom task's ``test:`` file is predicted whenever it is given)."""
    from bort.tasks import get_task

    if task["task"] == "custom" or not task.get("data"):
        return False
    try:
        spec = get_task(task["task"])
    except BortError:  # an unknown task: the pre-flight check names it
        return False
    return spec.has_file(Path(task["data"]), "test")


def plan(cfg: PipelineConfig) -> list[Stage]:
    """The switched-on stages, in the order they run."""
    out = Path(cfg.out)
    stages: list[Stage] = []
    teacher = Path(cfg.teacher)
    if cfg.teacher_mlm is not None:
        folder = out / "teacher"
        config = _build(PretrainConfig, cfg, cfg.teacher_mlm, "teacher_mlm", mode="mlm", init=str(teacher),
                        corpus=cfg.corpus, out=str(folder))
        stages.append(Stage("teacher_mlm", "pretrain", config, folder, folder))
        teacher = folder
    searched = searched_task(cfg)
    if searched is not None:  # the search scores candidates against the task's fine-tuned teacher: it comes first
        n, task = searched
        task_teacher = task_teacher_stage(cfg, n, task)
        if task_teacher:
            stages.append(task_teacher)
    if cfg.search is not None:
        folder = out / "search"
        section, wired = cfg.search, {"teacher": str(teacher), "corpus": cfg.corpus}
        if searched is not None:  # the task's files, its teacher, no corpus (nor its text field), its length
            n, task = searched
            section = {"seq_len": task.get("max_len") or 128, **cfg.search}
            wired = {"teacher": task_teacher_dir(cfg, task), "corpus": None, "task": task["task"],
                     "text_field": SearchConfig.text_field, **{k: v for k, v in task.items() if k in SEARCH_TASK_FILES}}
        config = _build(SearchConfig, cfg, section, "search", out=str(folder), **wired)
        stages.append(Stage("search", "search", config, folder))
    student = None
    if cfg.extract is not None:
        folder = out / "extract"
        wired = {}
        if not cfg.extract.get("arch"):  # the search's best, cut by the search's own scores when it has them
            search = stages[-1].config
            wired["student_config"] = str(out / "search" / "best" / "config.json")
            if getattr(search, "init", "random") == "extract" and not search.task:  # (a task's scores are the
                # fine-tuned teacher's, not this teacher's)
                wired["scores"] = str(out / "search" / "importance.json")
        config = _build(ExtractConfig, cfg, cfg.extract, "extract", teacher=str(teacher), corpus=cfg.corpus,
                        out=str(folder), **wired)
        stages.append(Stage("extract", "extract", config, folder, folder))
        student = folder
    if cfg.distil is not None:
        folder = out / "distil"
        config = _build(PretrainConfig, cfg, cfg.distil, "distil", mode="kd", teacher=str(teacher), init=str(student),
                        corpus=cfg.corpus, out=str(folder))
        stages.append(Stage("distil", "pretrain", config, folder, folder))
        student = folder
    first_tuned, first_teacher = None, None
    for n, task in enumerate(cfg.tasks):
        chain, produced, tuned_teacher = task_chain(cfg, n, task, student, teacher,
                                                    teacher_planned=searched is not None and searched[0] == n)
        stages += chain
        first_tuned = first_tuned or produced
        first_teacher = first_teacher or tuned_teacher
    if cfg.export is not None:
        folder = out / "export"
        config = _build(ExportConfig, cfg, cfg.export, "export", model_dir=str(first_tuned), auto=True,
                        out=str(folder))
        stages.append(Stage("export", "export", config, folder))
        if cfg.export.get("serve_teacher"):
            if not first_teacher:
                raise BortError(f"{cfg.source}: export.serve_teacher needs the first task's fine-tuned teacher "
                                "(its teacher_score is false and it gives no teacher_model)")
            teacher_folder = out / "export-teacher"
            config = _build(ExportConfig, cfg, cfg.export, "export", model_dir=str(first_teacher), auto=True,
                            out=str(teacher_folder))
            stages.append(Stage("export_teacher", "export", config, teacher_folder))
    if cfg.bench is not None:
        folder = out / "bench"
        subject = first_tuned or student
        section = {"lengths": [128], "fast_paths": [], **cfg.bench}
        config = _build(BenchConfig, cfg, section, "bench", models=[str(cfg.teacher)], model=str(subject),
                        out=str(folder))
        stages.append(Stage("bench", "bench", config, folder))
    return stages


def searched_task(cfg: PipelineConfig) -> tuple[int, dict] | None:
    """The task the search scores its candidates on (``search.task``, one of the pipeline's tasks by name), with its
    index; None for a search on the corpus or no search."""
    name = (cfg.search or {}).get("task")
    return next(((n, task) for n, task in enumerate(cfg.tasks) if task["name"] == name), None) if name else None


def task_teacher_dir(cfg: PipelineConfig, task: dict) -> str | None:
    """The task's fine-tuned teacher: the user's own (``teacher_model``), the one the pipeline fine-tunes, or None."""
    if task.get("teacher_model"):
        return task["teacher_model"]
    return None if task.get("teacher_score", True) is False else str(Path(cfg.out) / "tasks" / task["name"] / "teacher")


def task_teacher_stage(cfg: PipelineConfig, n: int, task: dict) -> Stage | None:
    """The teacher fine-tuned on the task the same way (plainly): the score the student's is judged against, the
    teacher the student is distilled from, Agora's Socrates unless one is given, and the search's teacher with
    ``search.task``. None when the user gives their own (``teacher_model``) or asks for none."""
    teacher_score = task.get("teacher_score", True)
    if teacher_score is False:
        return None
    # its own run: none of the student's distillation options, which need the teacher it is
    plain_options = {f.name for f in dataclasses.fields(FinetuneConfig)
                     if f.metadata.get("group") != DISTILLATION} - {"method"}
    plain = {k: v for k, v in with_test_prediction(task).items() if k in plain_options}
    if task.get("method") == "agora" and not task.get("holdout"):  # the student's H: same share and seed
        plain.setdefault("holdout_fraction", 0.5)
    if isinstance(teacher_score, dict):
        plain.update(teacher_score)
    folder = Path(cfg.out) / "tasks" / task["name"] / "teacher"
    return Stage(f"task:{task['name']}:teacher", "finetune",
                 _build(FinetuneConfig, cfg, plain, f"tasks[{n}].teacher_score", model=str(cfg.teacher),
                        out=str(folder)),
                 folder, folder)


def with_test_prediction(task: dict) -> dict:
    """A plain task whose benchmark folder holds the official test file predicts it (teacher and student)."""
    if "predict_test" not in task and task.get("method", "plain") == "plain" and has_test_split(task):
        return {**task, "predict_test": True}
    return task


def task_chain(cfg: PipelineConfig, n: int, task: dict, student: Path | None, mlm_teacher: Path,
               teacher_planned: bool = False) -> tuple[list[Stage], Path, str | None]:
    """One task's stages: the teacher fine-tuned on it (unless the user gives theirs, or ``teacher_planned``: the
    search on this task placed it first), the student cut out of that teacher (``task_extract``) or taken from the
    pipeline, then fine-tuned or distilled on the task. Returns the stages, the model the task produces and the
    task's fine-tuned teacher (None without one)."""
    folder = Path(cfg.out) / "tasks" / task["name"]
    task = with_test_prediction(task)
    teacher_stage = None if teacher_planned else task_teacher_stage(cfg, n, task)
    stages = [teacher_stage] if teacher_stage else []
    tuned_teacher = task_teacher_dir(cfg, task)
    model_dir = student or Path(cfg.teacher)
    if task.get("task_extract"):  # the student's shape cut out of the fine-tuned teacher, its classifier kept
        stages.append(task_extract_stage(cfg, n, task, tuned_teacher, folder / "extract"))
        model_dir = folder / "extract"
    # Agora's φ samples from the teacher's masked LM (stronger than the student's) when the pipeline gave the
    # teacher one; otherwise from the student's own (Agora's default).
    wired = {"socrates": task.get("socrates") or tuned_teacher} if task.get("method") == "agora" else {}
    if tuned_teacher and distils(task):  # task distillation from the fine-tuned teacher
        wired["teacher"] = tuned_teacher
    perturbs = task.get("method") == "agora" or task.get("augment")  # φ's copies: Agora's, or --augment's
    if perturbs and cfg.teacher_mlm is not None and task.get("phi", "mlm-replace") == "mlm-replace":
        wired["phi_model"] = task.get("phi_model", str(mlm_teacher))
    tuned = _build(FinetuneCommandConfig, cfg, task, f"tasks[{n}]", model=str(model_dir), out=str(folder / "student"),
                   **wired)
    produced = folder / "student" / ("best" if tuned.method == "agora" else "")
    stages.append(Stage(f"task:{task['name']}:student", "finetune", tuned, folder / "student", produced))
    return stages, produced, tuned_teacher


def task_extract_stage(cfg: PipelineConfig, n: int, task: dict, tuned_teacher: str, folder: Path) -> Stage:
    """Task-aware extraction (CoFi, block movement pruning): the fine-tuned teacher's heads, neurons and channels
    scored by |activation × gradient| of the task's own loss on its training inputs, in the shape the pipeline's
    extract stage gives (the search's best, or extract.arch) unless ``task_extract.arch`` names one."""
    options = task["task_extract"] if isinstance(task["task_extract"], dict) else {}
    shape = {}
    if "arch" not in options:  # the pipeline student's shape: extract.arch, else the search's pick
        shape = ({"arch": cfg.extract["arch"]} if (cfg.extract or {}).get("arch")
                 else {"student_config": str(Path(cfg.out) / "search" / "best" / "config.json")})
    wired = {k: v for k, v in task.items() if k in TASK_FILES}
    section = {"importance": "taylor", "seq_len": task.get("max_len") or 128, **options}
    config = _build(ExtractConfig, cfg, section, f"tasks[{n}].task_extract", teacher=tuned_teacher,
                    task=task["task"], out=str(folder), **shape, **wired)
    return Stage(f"task:{task['name']}:extract", "extract", config, folder, folder)
