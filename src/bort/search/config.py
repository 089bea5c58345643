"""The search's configuration, saved as search_config.json; a re-run that continues a search must match it."""

from __future__ import annotations

from dataclasses import dataclass

from bort.config import option, restart_option
from bort.errors import BortError
from bort.mlm.corpus import CORPUS_HELP, text_field_option
from bort.search.spaces import PRESETS
from bort.tasks.custom import CUSTOM, CustomTaskOptions, check_custom_options

LATENCY_SOURCES = ("measured", "flops")
INITS = ("random", "extract")


RUN = "run"
FPTAS = "the FPTAS (training and scoring each candidate)"
LATENCY = "latency protocol (î)"
BUDGET = "budget (the most accurate candidate that fits, ranked by ê; without one, the paper's W)"
EXECUTION = "execution"
TASK = "a surrogate on your task (--task): ê after s steps of task distillation from its fine-tuned teacher"


@dataclass(kw_only=True)
class SearchConfig(CustomTaskOptions):
    teacher: str = option(help="the maximum point T: a local Hugging Face masked-LM directory (with --task: the "
                          "teacher fine-tuned on that task)", metavar="TEACHER_DIR", group=RUN)
    corpus: list[str] | None = option(None, f"the fixed batches are drawn from these: {CORPUS_HELP} (not with "
                                      "--task, whose batches are the task's)", metavar="PATH", group=RUN)
    text_field: str = text_field_option(RUN)
    out: str = option(help="the run directory", metavar="RUN_DIR", group=RUN, resumable=True)
    space: str = option("cpu-small", f"the search space Ξ: a preset ({', '.join(PRESETS)}) or a YAML/JSON file "
                        "with depths, heads, hiddens, intermediates (and even_depth)", group=RUN)
    restart: bool = restart_option(RUN)
    # the FPTAS
    steps: int = option(3, "s: SGD steps per candidate (the paper: 3)", minimum=1, group=FPTAS)
    init: str = option("random", "where each candidate's s steps start: random (the paper's ê: how fast a random "
                       "network learns) or extract (its weights cut out of the teacher as `bort extract` does, "
                       "importance scored once: the network a user will distil); with --task always cut out of the "
                       "fine-tuned teacher", choices=INITS, group=FPTAS)
    epsilon: int = option(1, "ε: keep every ε-th candidate after sorting by parameter count (1: all)", minimum=1,
                          group=FPTAS)
    lr: float = option(1e-2, "SGD learning rate", above=0, group=FPTAS)
    batch_size: int = option(8, "sequences per batch", minimum=1, group=FPTAS)
    clip: float = option(1.0, "gradient-norm clipping; 0 turns it off", minimum=0, group=FPTAS)
    warmup_steps: int = option(0, "linear learning-rate warm-up steps within the s steps", minimum=0, group=FPTAS)
    temperature: float = option(1.0, "softmax temperature of both the teacher's and the candidate's distribution",
                                above=0, group=FPTAS)
    all_positions: bool = option(False, "compute ê's cross-entropy over every token, not only the masked ones",
                                 group=FPTAS)
    seq_len: int = option(512, "training sequence length in tokens", minimum=8, group=FPTAS)
    val_batches: int = option(4, "held-out batches ê is measured on", minimum=1, group=FPTAS)
    mask_prob: float = option(0.15, "share of the tokens masked in the fixed batches", above=0, group=FPTAS)
    # the user's budget: it decides which candidates are trained and how they rank, never their ê (so a re-run
    # with another budget re-ranks the candidates already scored, and trains only those newly in it)
    max_latency: float | None = option(None, "only candidates whose î (at --latency-batch × --latency-seq-len "
                                       "tokens, on this device) is at most this many ms: one whose 95% interval lies "
                                       "above it is left out, one whose interval holds it is kept and flagged",
                                       above=0, metavar="MS", group=BUDGET, resumable=True)
    min_speedup: float | None = option(None, "only candidates at least this many times faster than the teacher "
                                       "(î(T)/î, judged on the interval as --max-latency)", minimum=1, metavar="X",
                                       group=BUDGET, resumable=True)
    max_params: int | None = option(None, "only candidates with at most this many parameters (exact, embeddings "
                                    "included)", minimum=1, metavar="N", group=BUDGET, resumable=True)
    # a surrogate on the user's task
    task: str | None = option(None, "score each candidate on this task instead of the corpus (any task bort finetune "
                              "takes, custom included): cut out of the fine-tuned --teacher (Taylor importance on "
                              "the task's loss, its head kept), s steps of task distillation on training inputs, ê "
                              "the loss against the teacher's outputs on held-out dev inputs", group=TASK)
    data: str | None = option(None, "the task's official folder (not for --task custom, which reads --train and "
                              "--dev)", metavar="TASK_DIR", group=TASK)
    # latency protocol
    latency: str = option("measured", "î measured on this device, or Lemma 1's FLOPs (deterministic)",
                          choices=LATENCY_SOURCES, group=LATENCY)
    latency_device: str = option("cpu", "device latency is measured on", choices=("cpu", "cuda"), group=LATENCY)
    latency_batch: int = option(1, "batch size of the timed input", minimum=1, group=LATENCY)
    latency_seq_len: int = option(128, "tokens per sequence of the timed input", minimum=1, group=LATENCY)
    latency_threads: int | None = option(None, "intra-op threads while timing (default: all cores torch sees)",
                                         minimum=1, group=LATENCY)
    latency_repeats: int = option(5, "at least this many interleaved rounds, each timing T and every candidate once; "
                                  "î is T's latency times the median per-round ratio to T", minimum=1, group=LATENCY)
    latency_max_rounds: int = option(30, "at most this many rounds", minimum=1, group=LATENCY)
    latency_target: float = option(0.02, "stop adding rounds once every ratio to T has a 95% interval within ± "
                                   "this share", above=0, group=LATENCY)
    latency_max_seconds: float = option(120.0, "stop adding rounds after this much timing (per group of "
                                        "candidates timed together)", minimum=0, group=LATENCY)
    latency_warmup_runs: int = option(1, "untimed runs before timing each model", minimum=0, group=LATENCY)
    latency_remeasure: bool = option(False, "when a re-run continues a search whose saved î come from another "
                                     "device or thread count, measure every î again (refused otherwise)",
                                     group=LATENCY, resumable=True)
    # execution
    workers: int = option(1, "candidates trained in parallel (local processes)", minimum=1, group=EXECUTION,
                          resumable=True)
    ray: str | None = option(None, "'local' (a private Ray on loopback) or a Ray cluster address HOST:PORT",
                             metavar="ADDRESS", group=EXECUTION, resumable=True)
    threads_per_worker: int | None = option(None, "torch threads in each worker (default: torch's choice)", minimum=1,
                                            group=EXECUTION, resumable=True)
    seed: int = option(0, "seed of the fixed batches, their masks and every candidate's initialisation",
                       group=EXECUTION)
    cache_dir: str | None = option(None, "tokenization cache (default: RUN_DIR/token_cache)", group=EXECUTION,
                                   resumable=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task:
            if self.corpus:
                raise BortError("--task scores candidates on the task's inputs: drop --corpus")
            check_custom_options(self, self.task, need=("train", "dev"))
            if self.test:
                raise BortError("--test: the search scores candidates on --dev's inputs; it reads no test file")
            if self.workers > 1 or self.ray:
                raise BortError("--task trains its candidates in this process, one after another: drop --workers and "
                                "--ray")
            if self.task != CUSTOM and not self.data:
                raise BortError(f"--data TASK_DIR is required with --task {self.task}: the folder of its official "
                                "files")
        else:
            if not self.corpus:
                raise BortError("--corpus is required: text files, folders or globs (or --task, to search on a task)")
            given = [f"--{name}" for name in ("data", "train", "dev", "test") if getattr(self, name)]
            if given:
                raise BortError(f"{', '.join(given)} go{'es' if len(given) == 1 else ''} with --task (a surrogate on "
                                "your task); the corpus search reads --corpus")
        if not self.mask_prob < 1:
            raise BortError(f"--mask-prob must be below 1, got {self.mask_prob}")
        if self.max_latency is not None and self.latency == "flops":
            raise BortError("--max-latency is in milliseconds measured on this device; with --latency flops give "
                            "--min-speedup (the teacher's FLOPs over the candidate's) instead")
