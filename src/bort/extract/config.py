"""The extraction's configuration, saved as ``extract_config.json`` beside the extracted student."""

from __future__ import annotations

from dataclasses import dataclass

from bort.architecture.arch import parse_arch
from bort.config import option, restart_option
from bort.errors import BortError
from bort.extract.importance import METHODS
from bort.extract.selection import LAYER_RULES
from bort.mlm.corpus import CORPUS_HELP, text_field_option
from bort.tasks.custom import CustomTaskOptions, check_custom_options

RUN = "run"
CALIBRATION = "calibration (the importance scores)"
TASK = "task-aware extraction (a fine-tuned teacher)"


@dataclass(kw_only=True)
class ExtractConfig(CustomTaskOptions):
    teacher: str = option(help="a local Hugging Face BERT or RoBERTa directory (bare encoder or masked LM; "
                          "with --task, a classifier fine-tuned on that task)", metavar="TEACHER_DIR", group=RUN)
    corpus: list[str] = option(default_factory=list, help="the calibration batches are drawn from these (not "
                               f"needed with --scores): {CORPUS_HELP}", metavar="PATH", group=RUN, show="")
    text_field: str = text_field_option(RUN)
    out: str = option(help="the student's directory", metavar="OUT_DIR", group=RUN, resumable=True)
    restart: bool = restart_option(RUN)
    arch: list[int] | None = option(None, "the student's architecture, e.g. 3,12,384,768", parse=parse_arch,
                                    metavar="D,A,H,I", group=RUN)
    student_config: str | None = option(None, "the student's architecture from an HF config instead of --arch "
                                        "(e.g. a search's best/config.json)", flag="--config", metavar="CONFIG.json",
                                        group=RUN)
    layers: str = option("importance", "which teacher layers to keep: importance (those whose removal changes the "
                         "teacher's output least are dropped) or uniform (every k-th, as DistilBERT)",
                         choices=LAYER_RULES, group=RUN)
    importance: str = option("activation", "how heads, FFN neurons and hidden channels are scored: activation "
                             "(Minitron's activation-based scores) or taylor (|activation × gradient| of the "
                             "masked-LM loss, or with --task of the task's own loss on a fine-tuned classifier)",
                             choices=METHODS, group=RUN)
    scores: str | None = option(None, "reuse saved importance scores instead of calibrating: a search's "
                                "importance.json (`bort search --init extract`), so that the student is the one the "
                                "search scored, or another extraction's extraction.json", metavar="FILE",
                                group=CALIBRATION)
    task: str | None = option(None, "score the fine-tuned teacher's units on this task's training inputs and loss "
                              "(e.g. glue/SST-2, custom) and keep its classifier: the student is a sequence-"
                              "classification directory that `bort finetune --teacher` distils directly",
                              group=TASK)
    data: str | None = option(None, "the task's official folder (not used by --task custom)", metavar="TASK_DIR",
                              group=TASK)
    calibration_batches: int = option(8, "calibration batches", minimum=1, group=CALIBRATION)
    batch_size: int = option(8, "sequences per calibration batch", minimum=1, group=CALIBRATION)
    seq_len: int = option(128, "tokens per calibration sequence", minimum=8, group=CALIBRATION)
    mask_prob: float = option(0.15, "share of the tokens masked for Taylor scores", above=0, group=CALIBRATION)
    seed: int = option(0, "seed of the calibration sample and its masks", group=CALIBRATION)
    cache_dir: str | None = option(None, "tokenization cache (default: OUT_DIR/token_cache, removed at the end)",
                                   group=CALIBRATION, resumable=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task is not None:
            check_custom_options(self, self.task, need=("train",))
            if self.task != "custom" and not self.data:
                raise BortError(f"--data TASK_DIR is required with --task {self.task}: the folder of its official "
                                "files")
        elif self.custom_files():
            raise BortError("--train, --dev and --test apply with --task custom (task-aware extraction) only")
        elif not self.corpus and not self.scores:
            raise BortError("--corpus is required (text files, folders or globs), unless --scores gives saved scores "
                            "or --task calibrates on a task")
        given = [flag for flag, value in (("--arch", self.arch), ("--config", self.student_config))
                 if value is not None]
        if len(given) != 1:
            raise BortError("give the student's shape with --arch D,A,H,I or --config CONFIG.json" if not given
                            else "give one of --arch and --config, not both")
        if not self.mask_prob < 1:
            raise BortError(f"--mask-prob must be below 1, got {self.mask_prob}")
