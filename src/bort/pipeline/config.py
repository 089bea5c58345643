"""The pipeline's one file: the teacher, the corpus, and a section per stage whose keys are that command's options.

    out: runs/my-student
    teacher: models/my-teacher          # a local BERT/RoBERTa directory
    corpus: [data/in-domain.jsonl]
    text_field: text
    teacher_mlm: {max_steps: 100}       # give a teacher without a masked-LM head one (bort pretrain --mode mlm)
    search: {space: minilm, init: extract, steps: 10}
    extract: {}                         # the search's best; or {arch: [3, 8, 256, 1024]} without a search
    distil: {max_steps: 300, hidden_weight: 1.0}
    tasks:
      - {name: support, task: custom, train: data/train.csv, dev: data/dev.csv, text_column: body}
    export: {}
    bench: {lengths: [128]}

A section is a stage switched on; ``enabled: false`` (or leaving it out) switches it off. Its keys
are the stage command's own options with ``_`` for ``-`` (``distil``'s are ``bort pretrain``'s);
what the pipeline wires itself (every ``out``, each stage's model and teacher) may not be given.
Paths are relative to the current directory, as on the command line; ``{bort_data}`` stands for
the data shipped with bort (the novels, the SST-2 sample, the example task).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from bort.api import FinetuneCommandConfig
from bort.errors import BortError
from bort.extract.config import ExtractConfig
from bort.finetune.config import FinetuneConfig
from bort.inference.config import BenchConfig, ExportConfig
from bort.pretrain.config import PretrainConfig
from bort.search.config import SearchConfig
from bort.tasks.custom import CustomTaskOptions

# section → (the command whose options it takes, the options the pipeline sets itself)
SECTIONS = {
    "teacher_mlm": ("bort pretrain", PretrainConfig, {"mode", "teacher", "init", "corpus", "out", "arch",
                                                      "student_config"}),
    "search": ("bort search", SearchConfig, {"teacher", "corpus", "out"}),
    "extract": ("bort extract", ExtractConfig, {"teacher", "corpus", "out", "student_config", "scores"}),
    "distil": ("bort pretrain", PretrainConfig, {"mode", "teacher", "init", "corpus", "out", "arch",
                                                 "student_config"}),
    "tasks": ("bort finetune", FinetuneCommandConfig, {"model", "out", "teacher"}),
    "export": ("bort export", ExportConfig, {"model_dir", "out", "auto", "onnx", "path"}),
    "bench": ("bort bench", BenchConfig, {"model", "models", "out", "json"}),
}
# A task entry's own keys, beside bort finetune's options. teacher_score: whether the teacher is fine-tuned the same way
# (true), not at all (false), or with some options changed (a mapping, e.g. {epochs: 1}); teacher_model: the user's
# own fine-tuned classifier for the task, used as it is in place of that run; task_distil: whether the student
# learns from that teacher's outputs (bort finetune --teacher; default: a plain task's student does whenever the
# task has a teacher, an Agora task's does not); task_extract: the student cut out of the task's fine-tuned teacher
# (bort extract --task, Taylor scores on the task's loss, its classifier kept) in the pipeline student's shape, in
# place of the corpus-distilled student (true, or a mapping of bort extract's calibration options and arch).
TASK_KEYS = {"name", "teacher_score", "teacher_model", "task_distil", "task_extract"}
# A task's folder, files and columns: set in its entry, and wired from there into the stages that read the task.
TASK_FILES = {f.name for f in dataclasses.fields(CustomTaskOptions)} | {"data"}
# What the pipeline sets in a task's extraction: its teacher, task, data and files, and where it writes.
TASK_EXTRACT_WIRED = {"teacher", "corpus", "out", "scores", "task", "student_config"} | TASK_FILES
# The export section's own key: serve_teacher: true also exports the first task's fine-tuned teacher the same way
# (export-teacher/), so that the report and its plot set the served student beside the served teacher.
EXPORT_KEYS = frozenset({"serve_teacher"})
TOP_KEYS = {"out", "teacher", "corpus", "text_field", "tasks", *SECTIONS}
PATH_KEYS = {"data", "train", "dev", "test", "holdout", "socrates", "phi_model", "theta", "scores", "space",
             "teacher_model", "unlabeled",
             "cache_dir", "student_config"}


@dataclass
class PipelineConfig:
    """A parsed pipeline file: the shared inputs and each switched-on stage's options (None: switched off)."""

    out: str
    teacher: str
    corpus: list[str] = field(default_factory=list)
    text_field: str | None = None
    teacher_mlm: dict | None = None
    search: dict | None = None
    extract: dict | None = None
    distil: dict | None = None
    tasks: list[dict] = field(default_factory=list)
    export: dict | None = None
    bench: dict | None = None
    source: str = ""  # the file it was read from, for messages

    def on(self, section: str) -> bool:
        return bool(self.tasks) if section == "tasks" else getattr(self, section) is not None


def _check_numbers(value, where: str) -> None:
    """nan and inf are no setting: refused wherever a number sits in the file."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BortError(f"{where} must be a finite number, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_numbers(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_numbers(v, f"{where}[{i}]")


def _check_section(path: Path, section: str, values: dict, extra: set[str] = frozenset(),
                   config_class: type | None = None, wired: set[str] | None = None, where: str | None = None) -> dict:
    """The section's keys are its command's options, less those the pipeline sets; relative paths made absolute.
    ``wired`` and ``where`` replace the section's own wired options and its name in messages (a task's cut)."""
    command, default_class, section_wired = SECTIONS[section]
    wired = section_wired if wired is None else wired
    options = {f.name for f in dataclasses.fields(config_class or default_class)}
    for key in values:
        if key in wired:
            raise BortError(f"{path}: {where or section}.{key} is set by the pipeline (it wires each stage's inputs "
                            "and outputs); remove it")
        if key not in options | extra | {"enabled"}:
            close = sorted(options - wired)
            raise BortError(f"{path}: {where or section}.{key} is not an option of {command}; its options are "
                            f"{', '.join(close)}")
    resolved = {}
    for key, value in values.items():
        if key in PATH_KEYS and isinstance(value, str):
            value = _expand(value)
            if Path(value).exists():  # a preset's name (space: minilm, theta: cpu-small) stays a name
                value = str(Path(value).resolve())
        resolved[key] = value
    return resolved


def _task_extract(path: Path, n: int, value) -> dict | bool:
    """A task's ``task_extract``: false, true, or bort extract's options for the cut (calibration, arch)."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, dict):
        raise BortError(f"{path}: tasks[{n}].task_extract must be true, false or a mapping of bort extract's options, "
                        f"got {value!r}")
    value = _check_section(path, "extract", value, wired=TASK_EXTRACT_WIRED, where=f"tasks[{n}].task_extract")
    return False if value.get("enabled", True) is False else {k: v for k, v in value.items() if k != "enabled"}


def _section(raw: dict, path: Path, name: str) -> dict | None:
    value = raw.get(name)
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise BortError(f"{path}: {name} must be a mapping of {SECTIONS[name][0]}'s options (or false), got "
                        f"{type(value).__name__}")
    if value.get("enabled", True) is False:
        return None
    given_files = sorted(TASK_FILES & set(value)) if name == "search" else []
    if given_files:
        raise BortError(f"{path}: search.{given_files[0]}: a search on a task reads the files of the task that "
                        "search.task names (give that task's files in its entry under tasks)")
    extra = EXPORT_KEYS if name == "export" else frozenset()
    return {k: v for k, v in _check_section(path, name, value, extra=extra).items() if k != "enabled"}


def _expand(value: str) -> str:
    """``{bort_data}/corpus`` → the corpus shipped with bort."""
    from bort.data import DATA_DIR

    return value.replace("{bort_data}", str(DATA_DIR))


def _absolute(value: str) -> str:
    return str(Path(_expand(value)).resolve())


def load_pipeline(path: str | Path) -> PipelineConfig:
    """Read and check a pipeline file; a one-line error for anything a stage would fail on later."""
    path = Path(path)
    return parse_pipeline(read_yaml(path), path)


def read_yaml(path: Path):
    """A YAML file's content; one line for a file that is missing, not UTF-8 or not YAML."""
    import yaml

    from bort.util.data_files import decode_utf8

    if not path.is_file():
        raise BortError(f"{path} does not exist (expected a pipeline YAML file)")
    text = decode_utf8(path, path.read_bytes(), "pipeline file")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise BortError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})")


def parse_pipeline(raw, path: Path) -> PipelineConfig:
    """A pipeline from a file's content (``path`` names it in messages); every stage's options checked."""
    if not isinstance(raw, dict):
        raise BortError(f"{path}: expected a mapping with out, teacher, corpus and the stages' sections")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise BortError(f"{path}: unknown key {unknown[0]!r}; expected some of {', '.join(sorted(TOP_KEYS))}")
    _check_numbers(raw, path.name)
    for key in ("out", "teacher"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise BortError(f"{path}: {key} is required (a directory path)")
    corpus = raw.get("corpus") or []
    corpus = [corpus] if isinstance(corpus, str) else corpus
    if not isinstance(corpus, list) or not all(isinstance(c, str) for c in corpus):
        raise BortError(f"{path}: corpus must be a path or a list of paths")
    tasks = raw.get("tasks") or []
    if not isinstance(tasks, list):
        raise BortError(f"{path}: tasks must be a list of bort finetune settings, one per task")
    checked_tasks, names, switched_off = [], set(), set()
    for n, entry in enumerate(tasks):
        if not isinstance(entry, dict) or "task" not in entry:
            raise BortError(f"{path}: tasks[{n}] must be a mapping with at least a task (e.g. glue/SST-2, custom)")
        if entry.get("enabled", True) is False:
            switched_off.add(entry.get("name", str(entry["task"]).split("/")[-1]))
            continue
        entry = {k: v for k, v in _check_section(path, "tasks", entry, extra=TASK_KEYS).items() if k != "enabled"}
        if isinstance(entry.get("teacher_score"), dict):  # the teacher's run is plain fine-tuning: its options only
            entry["teacher_score"] = _check_section(path, "tasks", entry["teacher_score"],
                                                    config_class=FinetuneConfig)
            if entry["teacher_score"].pop("enabled", True) is False:
                entry["teacher_score"] = False
        elif not isinstance(entry.get("teacher_score", True), bool):
            raise BortError(f"{path}: tasks[{n}].teacher_score must be true, false or a mapping of bort finetune's "
                            "options for the teacher")
        if "task_extract" in entry:
            entry["task_extract"] = _task_extract(path, n, entry["task_extract"])
        if not isinstance(entry.get("task_distil", True), bool):
            raise BortError(f"{path}: tasks[{n}].task_distil must be true or false, got {entry['task_distil']!r}")
        if entry.get("teacher_model") is not None:
            if not isinstance(entry["teacher_model"], str) or not Path(entry["teacher_model"]).is_dir():
                raise BortError(f"{path}: tasks[{n}].teacher_model {entry['teacher_model']!r} is not a directory "
                                "(expected your fine-tuned classifier for the task)")
            if entry.get("teacher_score", False) is not False:
                raise BortError(f"{path}: tasks[{n}] gives teacher_model, the teacher as it is: teacher_score (the "
                                "teacher fine-tuned here) does not apply; drop one")
            entry["teacher_score"] = False
        entry.setdefault("name", str(entry["task"]).split("/")[-1])
        if not isinstance(entry["name"], str) or not entry["name"] or "/" in entry["name"]:
            raise BortError(f"{path}: tasks[{n}].name must be a folder name (text without /), got {entry['name']!r}")
        if entry["name"] in names:
            raise BortError(f"{path}: two tasks are named {entry['name']!r}; give each a distinct name")
        names.add(entry["name"])
        checked_tasks.append(entry)
    cfg = PipelineConfig(out=_absolute(raw["out"]), teacher=_absolute(raw["teacher"]),
                         corpus=[_absolute(c) for c in corpus], text_field=raw.get("text_field"),
                         tasks=checked_tasks, source=str(path),
                         **{name: _section(raw, path, name) for name in SECTIONS if name != "tasks"})
    if not Path(cfg.teacher).is_dir():
        raise BortError(f"{path}: teacher {cfg.teacher} is not a directory (expected a local BERT or RoBERTa model)")
    if cfg.search is not None and cfg.search.get("task") is not None:
        cfg.search["task"] = _search_task(path, cfg.search["task"], checked_tasks, switched_off)
    check_dependencies(cfg)
    return cfg


def _search_task(path: Path, value, tasks: list[dict], switched_off: set) -> str:
    """``search.task`` names one of the pipeline's tasks, by its name or by its task when one entry has it: the
    search reads that task's files and scores candidates against its fine-tuned teacher. Returns the task's name."""
    if not isinstance(value, str) or not value:
        raise BortError(f"{path}: search.task must be the name of one of the pipeline's tasks (text), got {value!r}")
    if value in switched_off:
        raise BortError(f"{path}: search.task {value!r} names a task that is switched off (enabled: false); switch it "
                        "on or search on another")
    names = [task["name"] for task in tasks]
    if value in names:
        return value
    same = [task["name"] for task in tasks if task["task"] == value]
    if len(same) == 1:
        return same[0]
    if same:
        raise BortError(f"{path}: search.task {value!r} is the task of {', '.join(same)}; give the name of the one "
                        "whose teacher scores the candidates")
    raise BortError(f"{path}: search.task {value!r} is none of the pipeline's tasks "
                    f"({', '.join(names) if names else 'tasks is empty'}); give the name of the task whose fine-tuned "
                    "teacher scores the candidates")


def check_dependencies(cfg: PipelineConfig) -> None:
    """Every switched-on stage has what it starts from: refused in one line naming the stage it depends on."""
    where = cfg.source

    def needs(stage: str, upstream: str, what: str) -> None:
        raise BortError(f"{where}: {stage} depends on {upstream}, which is switched off; {what}")

    if cfg.extract is not None and not cfg.extract.get("arch") and not cfg.on("search"):
        needs("extract", "search", "give extract.arch (D, A, H, I) or switch search on")
    if cfg.distil is not None and not cfg.on("extract"):
        needs("distil", "extract", "switch extract on (distillation starts from the extracted student)")
    search_task = (cfg.search or {}).get("task")
    corpus_search = cfg.on("search") and not search_task
    if (corpus_search or cfg.on("extract") or cfg.on("distil") or cfg.on("teacher_mlm")) and not cfg.corpus:
        raise BortError(f"{where}: corpus is required by teacher_mlm, search (without search.task), extract and "
                        "distil")
    for task in cfg.tasks:
        if task["name"] == search_task and task.get("teacher_score") is False and not task.get("teacher_model"):
            raise BortError(f"{where}: search.task scores candidates against task {task['name']}'s fine-tuned "
                            "teacher, and its teacher_score is false; give teacher_model or drop teacher_score: false")
    for task in cfg.tasks:
        if task.get("method") == "agora" and not task.get("socrates") and task.get("teacher_score") is False:
            raise BortError(f"{where}: task {task['name']} runs Agora, whose Socrates is the teacher fine-tuned on "
                            "the task, and teacher_score is false; give socrates or drop teacher_score: false")
        if not task.get("task_extract"):
            continue
        if task.get("teacher_score") is False and not task.get("teacher_model"):
            raise BortError(f"{where}: task {task['name']}'s task_extract cuts its student out of the task's "
                            "fine-tuned teacher, and teacher_score is false; give teacher_model or drop "
                            "teacher_score: false")
        shape = task["task_extract"].get("arch") if isinstance(task["task_extract"], dict) else None
        if shape is None and not (cfg.on("extract") and cfg.extract.get("arch")) and not cfg.on("search"):
            raise BortError(f"{where}: task {task['name']}'s task_extract takes the student's shape from extract.arch "
                            "or the search, and neither is given; give task_extract: {arch: [D, A, H, I]}, "
                            "extract.arch, or switch search on")
    if cfg.export is not None and not cfg.tasks:
        needs("export", "tasks", "add a task: export serves the fine-tuned student")
    if cfg.bench is not None and not (cfg.on("extract") or cfg.tasks):
        needs("bench", "extract", "bench times the student against the teacher")
