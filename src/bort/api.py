"""bort from Python: each stage a function of its config dataclass, returning a small result object.

    import bort
    found = bort.search(bort.SearchConfig(teacher="teacher/", corpus=["text/"], out="runs/search", space="minilm"))
    student = bort.extract(bort.ExtractConfig(teacher="teacher/", arch=list(found.best), corpus=["text/"],
                                              out="runs/student"))

The functions are the commands' own code (the same checks, run directories, resume rule and
files); what they return is in memory, so that nothing a caller needs must be read back from the
files a run writes. Bad input raises :class:`bort.BortError` with the one line the CLI would print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bort.agora.config import AgoraConfig, AgoraOptions
from bort.errors import BortError
from bort.extract.config import ExtractConfig
from bort.finetune.config import EvaluateConfig, FinetuneConfig
from bort.inference.config import BenchConfig, ExportConfig
from bort.pretrain.config import PretrainConfig
from bort.search.config import SearchConfig


@dataclass(kw_only=True)
class FinetuneCommandConfig(AgoraOptions, FinetuneConfig):
    """``bort finetune``'s options, for either method: fine-tuning's and Agora's (``--method agora``), each defined
    once in its own stage's config and composed here, where both stages may be imported. It describes the command,
    not a run: :func:`finetune` makes of it the run's config, a plain :class:`FinetuneConfig` or an
    :class:`AgoraConfig`, so that plain fine-tuning is never described as an Agora run."""


@dataclass(frozen=True)
class SearchResult:
    """The FPTAS's outcome: ``best`` is ⟨D, A, H, I⟩; ``ranking`` every trained candidate by W, best first
    (each with arch, p, latency, error, W and its Pareto flag), or with a budget (``SearchConfig.max_latency``,
    ``min_speedup``, ``max_params``) those that fit it first, by ê, each with its ``budget`` verdict."""

    out: Path
    best: tuple[int, int, int, int]
    best_scores: dict
    ranking: list[dict]
    teacher_parameters: int
    teacher_latency: float
    latency_unit: str
    seconds: float


@dataclass(frozen=True)
class ExtractResult:
    """A student cut out of its teacher: its directory, shape, size and what was kept."""

    out: Path
    arch: tuple[int, int, int, int]
    teacher_arch: tuple[int, int, int, int]
    parameters: int
    encoder_share: float  # of the teacher's encoder parameters
    selection: dict = field(repr=False)
    reused: bool = False  # an earlier run with the same settings was kept


@dataclass(frozen=True)
class PretrainResult:
    """A pre-trained or distilled model: held-out MLM accuracy against the most-frequent-token baseline."""

    out: Path
    step: int
    finished: bool
    mlm_accuracy: float | None
    baseline_accuracy: float | None
    metrics: dict = field(repr=False)


@dataclass(frozen=True)
class FinetuneResult:
    """A fine-tuned classifier. ``model``: its directory; ``metrics``: on what it was selected (dev, or E);
    ``held_out``: on H, when there is one; ``plain_held_out``: Agora's plain fine-tuning with the same Θ; ``test``:
    the test file's size, whether it is labelled and (then) its scores, when the run predicted one."""

    model: Path
    task: str
    method: str
    metrics: dict
    held_out: dict | None
    majority_baseline: dict
    plain_held_out: dict | None = None
    test: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EvaluateResult:
    """A model's scores on one split (None when it has no labels) and, when written, its predictions file."""

    task: str
    split: str
    examples: int
    metrics: dict | None
    predictions_file: Path | None


@dataclass(frozen=True)
class BenchResult:
    """Latency side by side: ``ratios[(batch, seq_len)][model]`` is the subject's speed-up over that model
    (median of per-round ratios, with its 95% interval); ``raw`` everything ``bench.json`` holds."""

    subject: str
    ratios: dict
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class ExportResult:
    """The path ``export --auto`` chose (or ``--path`` checked), its speed-up over eager and its parity."""

    out: Path
    path: str
    speedup: dict
    cosine: float | None
    raw: dict = field(repr=False)


def _arch(values) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def search(config: SearchConfig) -> SearchResult:
    """``bort search``: the FPTAS over ⟨D, A, H, I⟩ against the teacher, on this device."""
    from bort.search.report import rank
    from bort.search.runner import search as run_search

    summary = run_search(config)
    return SearchResult(out=Path(config.out), best=_arch(summary["best"]["arch"]), best_scores=summary["best"],
                        ranking=rank(summary["candidates"], summary.get("budget")), teacher_parameters=summary["p_T"],
                        teacher_latency=summary["latency_T"], latency_unit=summary["latency_unit"],
                        seconds=summary["total_seconds"])


def extract(config: ExtractConfig) -> ExtractResult:
    """``bort extract``: the student cut out of its teacher, with the teacher's own weights."""
    from bort.extract.extractor import extract as run_extract

    report = run_extract(config)
    return ExtractResult(out=Path(config.out), arch=_arch(report["arch"]), teacher_arch=_arch(report["teacher_arch"]),
                         parameters=report["parameters"],
                         encoder_share=report["encoder_parameters"] / report["teacher_encoder_parameters"],
                         selection=report["selection"], reused=bool(report.get("kept")))


def pretrain(config: PretrainConfig) -> PretrainResult:
    """``bort pretrain``: knowledge distillation from the teacher, or masked-LM pre-training."""
    from bort.pretrain.trainer import pretrain as run_pretrain

    final = run_pretrain(config)
    base = final.get("baseline_most_frequent") or {}
    return PretrainResult(out=Path(config.out), step=int(final.get("step", 0)),
                          finished="val_mlm_accuracy" in final or bool(final.get("finished")),
                          mlm_accuracy=final.get("val_mlm_accuracy"), baseline_accuracy=base.get("accuracy"),
                          metrics=final)


def finetune(config: FinetuneConfig) -> FinetuneResult:
    """``bort finetune``: plain fine-tuning, or Agora with ``method="agora"``. The one place that chooses between
    them: the CLI (a :class:`FinetuneCommandConfig`), the pipeline and Python (a :class:`FinetuneConfig`, or an
    :class:`AgoraConfig` for Agora) all come through here."""
    if config.method == "agora":
        from bort.agora.loop import agora

        cfg = _agora_run(config)
        result = agora(cfg)
        return FinetuneResult(model=Path(cfg.out) / "best", task=cfg.task, method="agora",
                              metrics={result["e_metric"]: result["e_score"]}, held_out=result["held_out_metrics"],
                              majority_baseline=result["held_out_majority_baseline"],
                              plain_held_out=result["plain_grid"]["held_out_metrics"], raw=result)
    from bort.finetune.plain import finetune as run_finetune

    cfg = _plain_run(config)
    result = run_finetune(cfg)
    held = "held_out_metrics" in result
    return FinetuneResult(model=Path(cfg.out), task=cfg.task, method="plain",
                          metrics={k: v for k, v in result["dev"].items() if k not in ("epoch", "seconds")},
                          held_out=result.get("held_out_metrics"),
                          majority_baseline=result["held_out_majority_baseline" if held else "majority_baseline"],
                          test={"examples": result["test_examples"], "labelled": result["test_labelled"],
                                "metrics": result.get("test_metrics")} if "test_examples" in result else None,
                          raw=result)


def _agora_run(config: FinetuneConfig) -> AgoraConfig:
    """``config`` as an Agora run's: as it is when it is one, ``bort finetune``'s options converted (the run saves
    and compares an :class:`AgoraConfig`); a plain :class:`FinetuneConfig` lacks Agora's settings."""
    if isinstance(config, AgoraConfig):
        return config
    if not isinstance(config, AgoraOptions):
        raise TypeError("method='agora' takes an AgoraConfig (bort.AgoraConfig), which holds Agora's settings")
    return AgoraConfig.from_dict(config.to_dict())


def _plain_run(config: FinetuneConfig) -> FinetuneConfig:
    """``config`` as a plain fine-tuning run's (the run saves and compares a :class:`FinetuneConfig`), refusing
    Agora's own options set away from their defaults: they would silently do nothing."""
    if not isinstance(config, AgoraOptions):
        return config
    given = config.agora_flags_given()
    if given:
        raise BortError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --method agora only")
    return FinetuneConfig.from_dict(config.to_dict())


def evaluate(config: EvaluateConfig) -> EvaluateResult:
    """``bort evaluate``: a fine-tuned model's official metrics on a split (and its predictions file)."""
    from bort.finetune.evaluate import evaluate_config

    result = evaluate_config(config)
    return EvaluateResult(task=result["task"], split=result["split"], examples=result["examples"],
                          metrics=result.get("metrics"),
                          predictions_file=Path(result["submission"]) if "submission" in result else None)


def bench(config: BenchConfig) -> BenchResult:
    """``bort bench``: latency of the models side by side, the fast paths, the roofline; reports in ``config.out``."""
    from bort.inference.bench import run_bench
    from bort.inference.bench_report import write_reports

    results = run_bench(config, progress=lambda message: None)
    write_reports(results, config.out)
    ratios = {(cell["batch"], cell["seq_len"]): {name: row["ratio_to_subject"] for name, row in cell["rows"].items()}
              for cell in results["cells"]}
    return BenchResult(subject=results["subject"], ratios=ratios, raw=results)


def export(config: ExportConfig) -> ExportResult:
    """``bort export --auto`` / ``--path``: the fastest faithful CPU path, written to ``config.out``."""
    from bort.inference.auto_export import export_auto

    if config.onnx:
        raise BortError("bort.export runs --auto or --path; for one ONNX file use `bort export --onnx`")
    record = export_auto(config, progress=lambda message: None)
    chosen = record["candidates"].get(record["path"], {})
    return ExportResult(out=Path(config.out), path=record["path"], speedup=chosen.get("speedup_over_eager", {}),
                        cosine=chosen.get("cosine"), raw=record)
