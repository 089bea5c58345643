"""The pipeline's stages in order, each the config of the command it runs, wired to the stages before it.

teacher_mlm → search → extract → distil → for each task: the teacher fine-tuned (its score, and
Agora's Socrates), the student fine-tuned → export → bench. Each stage writes only under its own
subdirectory of ``out``; its config is what :mod:`bort.pipeline.runner` compares on a re-run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bort.agora.config import AgoraConfig
from bort.config import Config
from bort.extract.config import ExtractConfig
from bort.finetune.config import FinetuneConfig
from bort.inference.config import BenchConfig, ExportConfig
from bort.pipeline.config import PipelineConfig
from bort.pretrain.config import PretrainConfig
from bort.search.config import SearchConfig


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


def _build(config_class: type[Config], cfg: PipelineConfig, section: dict, **wired) -> Config:
    """The stage's config: the section's options, then what the pipeline wires (which the section cannot set)."""
    values = {k: v for k, v in section.items() if k not in ("name", "teacher_score")}
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    for key, value in list(values.items()):
        parse = fields[key].metadata.get("parse")
        if parse is not None and isinstance(value, str):
            values[key] = parse(value)  # "3,8,256,1024" as on the command line
    return config_class(**_with_shared(config_class, cfg, {**values, **wired}))


def plan(cfg: PipelineConfig) -> list[Stage]:
    """The switched-on stages, in the order they run."""
    out = Path(cfg.out)
    stages: list[Stage] = []
    teacher = Path(cfg.teacher)
    if cfg.teacher_mlm is not None:
        folder = out / "teacher"
        stages.append(Stage("teacher_mlm", "pretrain", _build(PretrainConfig, cfg, cfg.teacher_mlm, mode="mlm",
                                                              init=str(teacher), corpus=cfg.corpus, out=str(folder)),
                            folder, folder))
        teacher = folder
    if cfg.search is not None:
        folder = out / "search"
        stages.append(Stage("search", "search", _build(SearchConfig, cfg, cfg.search, teacher=str(teacher),
                                                       corpus=cfg.corpus, out=str(folder)), folder))
    student = None
    if cfg.extract is not None:
        folder = out / "extract"
        wired = {}
        if not cfg.extract.get("arch"):  # the search's best, cut by the search's own scores when it has them
            search = stages[-1].config
            wired["student_config"] = str(out / "search" / "best" / "config.json")
            if getattr(search, "init", "random") == "extract":
                wired["scores"] = str(out / "search" / "importance.json")
        stages.append(Stage("extract", "extract", _build(ExtractConfig, cfg, cfg.extract, teacher=str(teacher),
                                                         corpus=cfg.corpus, out=str(folder), **wired), folder, folder))
        student = folder
    if cfg.distil is not None:
        folder = out / "distil"
        stages.append(Stage("distil", "pretrain", _build(PretrainConfig, cfg, cfg.distil, mode="kd",
                                                         teacher=str(teacher), init=str(student), corpus=cfg.corpus,
                                                         out=str(folder)), folder, folder))
        student = folder
    first_tuned = None
    for task in cfg.tasks:
        folder = out / "tasks" / task["name"]
        socrates = task.get("socrates")
        teacher_score = task.get("teacher_score", True)
        if teacher_score is not False:
            # The teacher fine-tuned the same way (plainly): the score the student's is judged against, and
            # Agora's Socrates unless one is given.
            plain_options = {f.name for f in dataclasses.fields(FinetuneConfig)} - {"method"}
            plain = {k: v for k, v in task.items() if k in plain_options}
            if task.get("method") == "agora":  # scored on the same H as the student (same share, same seed)
                plain.setdefault("holdout_fraction", 0.5)
            if isinstance(teacher_score, dict):
                plain.update(teacher_score)
            stages.append(Stage(f"task:{task['name']}:teacher", "finetune",
                                _build(FinetuneConfig, cfg, plain, model=str(cfg.teacher), out=str(folder / "teacher")),
                                folder / "teacher", folder / "teacher"))
            socrates = socrates or str(folder / "teacher")
        model_dir = student or Path(cfg.teacher)
        # Agora's φ samples from the teacher's masked LM unless told otherwise (the student's is weaker).
        wired = {"socrates": socrates, "phi_model": task.get("phi_model", str(teacher))} \
            if task.get("method") == "agora" and task.get("phi", "mlm-replace") == "mlm-replace" else \
            {"socrates": socrates} if task.get("method") == "agora" else {}
        tuned = _build(AgoraConfig, cfg, task, model=str(model_dir), out=str(folder / "student"), **wired)
        produced = folder / "student" / ("best" if tuned.method == "agora" else "")
        stages.append(Stage(f"task:{task['name']}:student", "finetune", tuned, folder / "student", produced))
        first_tuned = first_tuned or produced
    if cfg.export is not None:
        folder = out / "export"
        stages.append(Stage("export", "export", _build(ExportConfig, cfg, cfg.export, model_dir=str(first_tuned),
                                                       auto=True, out=str(folder)), folder))
    if cfg.bench is not None:
        folder = out / "bench"
        subject = first_tuned or student
        section = {"lengths": [128], "fast_paths": [], **cfg.bench}
        stages.append(Stage("bench", "bench", _build(BenchConfig, cfg, section, models=[str(cfg.teacher)],
                                                     model=str(subject), out=str(folder)), folder))
    return stages
