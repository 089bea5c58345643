"""The bench's and the export's configurations (light: no torch until a model is built)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from bort.config import Config, option, restart_option
from bort.errors import BortError
from bort.inference.paths import FAST_PATHS, PATHS  # light: the registry imports no torch
from bort.tasks.custom import CUSTOM, CustomTaskOptions, check_custom_options

NAMED_MODELS = {  # ⟨D,A,H,I⟩ of the models the bench knows by name
    "roberta-large": (24, 16, 1024, 4096),
    "roberta-base": (12, 12, 768, 3072),
    "bort": (4, 8, 1024, 768),
    "bort-printed": (4, 8, 768, 1024),
}


def csv_ints(text: str) -> list[int]:
    """``"128,512"`` → [128, 512]."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def path_list(text: str) -> list[str]:
    """``"eager,bf16,onnx-fused-int8"`` → the list (every name one of :data:`PATHS`)."""
    values = [x.strip() for x in text.split(",") if x.strip()]
    unknown = sorted(set(values) - set(PATHS))
    if not values or unknown:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(PATHS)} (comma-separated), got {text!r}")
    return values


def fast_path_list(text: str) -> list[str]:
    """``"torch-int8,onnx-int8"`` → the list; ``"none"`` → no fast path."""
    values = [x.strip() for x in text.split(",") if x.strip()]
    if values == ["none"]:
        return []
    unknown = sorted(set(values) - set(FAST_PATHS))
    if not values or unknown:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(FAST_PATHS)} (comma-separated) or 'none', "
                                         f"got {text!r}")
    return values


@dataclass(kw_only=True)
class BenchConfig(Config):
    models: list[str] = option(default_factory=lambda: ["roberta-large", "roberta-base", "bort"],
                               help=f"models by name ({', '.join(NAMED_MODELS)}), D,A,H,I (random weights), or a "
                               "local model directory (its own weights: a teacher beside its student), space-separated",
                               metavar="MODEL")
    subject: str = option("bort", "the model the ratios refer to and the fast paths speed up")
    model: str | None = option(None, "a local model directory to time with its trained weights and vocabulary; it "
                               "becomes the subject (its fast paths' parity is then measured on trained weights)",
                               metavar="MODEL_DIR")
    lengths: list[int] = option(default_factory=lambda: [128, 512], help="sequence lengths, comma-separated",
                                parse=csv_ints)
    batch: list[int] = option(default_factory=lambda: [1], help="batch sizes, comma-separated (e.g. 1,8,32: "
                              "sequences per second show where batching pays)", parse=csv_ints)
    threads: int | None = option(None, "intra-op threads (default: all cores torch sees)", minimum=1)
    warmup_runs: int = option(1, "untimed runs of each model before the rounds", minimum=0)
    rounds: int = option(5, "at least this many interleaved rounds (each runs every model once)", minimum=1)
    max_rounds: int = option(30, "at most this many rounds per batch size and length", minimum=1)
    max_seconds: float = option(60.0, "stop adding rounds after this much timing per batch size and length",
                                minimum=0)
    target: float = option(0.02, "stop once every ratio's 95% interval is within ± this share of it", above=0)
    block_ms: float = option(20.0, "a fast model runs several passes per round, so that its turn lasts this long",
                             above=0)
    fast_paths: list[str] = option(default_factory=lambda: list(FAST_PATHS),
                                   help=f"the subject's fast paths to time: some of {','.join(FAST_PATHS)}, or 'none'",
                                   parse=fast_path_list)
    onnx: list[str] = option(default_factory=list, help="exported ONNX files (bort export) to time beside the rest, "
                             "against eager --subject", metavar="FILE")
    seed: int = option(0, "seed of the random weights and the fixed input")
    out: str = option("runs/bench", "output directory: bench.json, bench.md, bench.png", metavar="DIR")
    json: bool = option(False, "print the results as JSON instead of tables")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_rounds < self.rounds:
            raise BortError(f"--max-rounds {self.max_rounds} is below --rounds {self.rounds}")

    def protocol(self, batch_size: int, seq_len: int):
        """The latency protocol of one batch size and sequence length."""
        # Here, not at the top: latency imports torch, and the CLI builds its parsers from this module.
        from bort.measure.latency import LatencyProtocol

        return LatencyProtocol(batch_size=batch_size, seq_len=seq_len, threads=self.threads,
                               warmup_runs=self.warmup_runs, repeats=self.rounds, max_rounds=self.max_rounds,
                               max_seconds=self.max_seconds, target_half_width=self.target, block_ms=self.block_ms,
                               seed=self.seed)


AUTO_MIN_COSINE = 0.999  # --auto / --path: the parity bar of a served model's outputs against eager fp32


@dataclass(kw_only=True)
class ExportConfig(CustomTaskOptions):
    model_dir: str = option(help="a local Hugging Face model directory (any BERT/RoBERTa encoder, with or without a "
                            "head)", positional=True, metavar="MODEL_DIR")
    onnx: bool = option(False, "export one ONNX file to --out FILE", group="what to write (one of)")
    auto: bool = option(False, "time every path this CPU runs under the interleaved protocol, keep the fastest whose "
                        "parity (and, with --task, task score) meets the bar — a simpler path when it ties — and "
                        "write it to --out DIR with export.json (the choice, the CPU flags, every candidate's "
                        "figures); bort.inference.load(DIR) runs it", group="what to write (one of)")
    path: str | None = option(None, "write this path to --out DIR, checked and timed against eager as --auto does",
                              choices=tuple(PATHS), group="what to write (one of)")
    candidates: list[str] = option(default_factory=lambda: list(PATHS), help="with --auto: the paths to consider "
                                   "(eager is always one)", parse=path_list, group="the choice")
    int8: bool = option(False, "with --onnx: quantize the matrix multiplications to int8 (ONNX Runtime dynamic "
                        "quantization, weights per output channel)")
    optimize: bool = option(False, "with --onnx: fuse the graph with ONNX Runtime's transformer optimizer first (one "
                            "Attention node per layer, skip-LayerNorm, bias-GELU)")
    out: str = option(help="the .onnx file (--onnx) or the directory (--auto, --path) to write", metavar="PATH",
                      resumable=True)
    restart: bool = restart_option()
    min_cosine: float | None = option(None, "refuse a path below this parity with PyTorch (default: --onnx 0.9999 "
                                      f"fp32, 0.99 int8; --auto and --path {AUTO_MIN_COSINE})", above=0)
    task: str | None = option(None, "with --auto / --path: a task whose dev set scores every candidate (e.g. "
                              "glue/SST-2); a path more than 0.5 point below eager is refused", group="the choice")
    data: str | None = option(None, "the task's folder (with --task)", metavar="TASK_DIR", group="the choice")
    max_len: int = option(128, "tokens per dev example (with --task)", minimum=2, group="the choice")
    seq_len: int = option(128, "the timed input's tokens per sequence", minimum=2, group="the choice")
    batch: int = option(1, "the timed input's sequences", minimum=1, group="the choice")
    threads: int | None = option(None, "intra-op threads (default: all cores torch sees)", minimum=1,
                                 group="the choice")
    rounds: int = option(5, "at least this many interleaved rounds", minimum=1, group="the choice")
    max_rounds: int = option(20, "at most this many rounds", minimum=1, group="the choice")
    max_seconds: float = option(60.0, "stop adding rounds after this much timing", minimum=0, group="the choice")
    opset: int = option(18, "ONNX opset (18 or newer)", minimum=18)

    def __post_init__(self) -> None:
        super().__post_init__()
        modes = [flag for flag, given in (("--onnx", self.onnx), ("--auto", self.auto), ("--path", self.path)) if given]
        if len(modes) != 1:
            raise BortError(f"give exactly one of --onnx, --auto, --path NAME (got {' and '.join(modes) or 'none'})")
        if not self.auto and set(self.candidates) != set(PATHS):
            raise BortError("--candidates goes with --auto (--path names its one path; --onnx writes one file)")
        if not self.onnx and (self.int8 or self.optimize):
            raise BortError("--int8 and --optimize go with --onnx; --auto and --path choose the precision themselves")
        if self.onnx and self.restart:
            raise BortError("--restart goes with --auto and --path (--onnx writes its one file anew on every run)")
        if self.task == CUSTOM:
            check_custom_options(self, CUSTOM, need=("dev",))
        elif (self.task is None) != (self.data is None):
            raise BortError("--task and --data go together: the task's name and its folder")
        else:
            check_custom_options(self, self.task or "no --task", need=())
        if self.task is not None and self.onnx:
            raise BortError("--task scores candidates for --auto or --path; --onnx writes one file unscored")
        if self.min_cosine is not None and self.min_cosine > 1:
            raise BortError(f"--min-cosine must be at most 1 (a cosine similarity), got {self.min_cosine}")
        if self.max_rounds < self.rounds:
            raise BortError(f"--max-rounds {self.max_rounds} is below --rounds {self.rounds}")

    def protocol(self):
        from bort.measure.latency import LatencyProtocol

        return LatencyProtocol(batch_size=self.batch, seq_len=self.seq_len, threads=self.threads, repeats=self.rounds,
                               max_rounds=self.max_rounds, max_seconds=self.max_seconds)
