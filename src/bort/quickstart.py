"""The whole pipeline on the data shipped with bort, on a laptop CPU, in minutes.

Each stage is the library call its command makes, with a config object: ``bort arch``, ``bort bench``,
``bort pretrain --mode mlm`` (the teacher), ``bort search``, ``bort pretrain --mode kd`` (the chosen
student) and ``bort finetune``. Everything is written under ``--out``.

The stages are imported inside the functions that run them: the CLI imports this module for its
config when it builds its parsers, before any model work, and torch is not needed for that.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bort.config import Config, option
from bort.util.run_dir import check_output_dir

TEACHER_ARCH = [4, 4, 128, 512]
STEPS = 6


@dataclass(kw_only=True)
class QuickstartConfig(Config):
    out: str = option("runs/quickstart", "output directory", metavar="DIR")
    threads: int | None = option(None, "threads for timing (default: all cores torch sees)", minimum=1)
    teacher_steps: int = option(300, "MLM steps for the teacher", minimum=1)
    student_steps: int = option(200, "KD steps for the student", minimum=1)
    search_steps: int = option(10, "s, SGD steps per search candidate", minimum=1)
    finetune_epochs: int = option(10, "SST-2 fine-tuning epochs at most", minimum=1)


def _stage(number: int, title: str) -> float:
    print(f"\n=== [{number}/{STEPS}] {title}", flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)


def quickstart(cfg: QuickstartConfig) -> None:
    from bort.pretrain.curves import plot_curves

    out = check_output_dir(cfg.out)
    started = time.perf_counter()

    t = _stage(1, "architectures: exact parameter counts and FLOPs (bort arch)")
    architectures()
    _done(t)

    t = _stage(2, "latency on this machine, and Bort's fast paths (bort bench, short protocol)")
    bench(out / "bench", cfg.threads)
    _done(t)

    teacher_dir = out / "teacher"
    t = _stage(3, f"a teacher ⟨{','.join(map(str, TEACHER_ARCH))}⟩ pre-trained with masked LM on four novels "
                  "(bort pretrain --mode mlm)")
    teacher = pretrain(teacher_dir, mode="mlm", arch=TEACHER_ARCH, max_steps=cfg.teacher_steps)
    _done(t)

    search_dir = out / "search"
    t = _stage(4, "the FPTAS over the 'tiny' space against the teacher, latency measured here (bort search)")
    best = search(teacher_dir, search_dir, cfg)
    _done(t)

    student_dir = out / "student"
    t = _stage(5, f"the chosen ⟨{','.join(map(str, best['arch']))}⟩ distilled from the teacher "
                  "(bort pretrain --mode kd --config search/best/config.json)")
    pretrain(student_dir, mode="kd", teacher=str(teacher_dir), student_config=str(search_dir / "best" / "config.json"),
             max_steps=cfg.student_steps)
    _done(t)
    curves = plot_curves({"teacher (MLM)": teacher_dir, "student (KD)": student_dir}, out / "curves.png",
                         baseline=teacher["baseline_most_frequent"]["accuracy"])
    if curves:
        print(f"    validation curves: {curves}")

    t = _stage(6, "the student fine-tuned on a 2,000-sentence sample of GLUE SST-2, scored on its dev set "
                  "(bort finetune)")
    finetune(student_dir, out / "sst2", cfg.finetune_epochs)
    _done(t)
    print(f"\nquickstart finished in {time.perf_counter() - started:.0f} s; outputs under {out}", file=sys.stderr)


def architectures() -> None:
    from bort.architecture.report import rows_for, table

    print(table(rows_for([], None)))


def bench(out: Path, threads: int | None) -> None:
    from bort.inference.bench import run_bench
    from bort.inference.bench_report import write_reports
    from bort.inference.config import BenchConfig

    cfg = BenchConfig(models=["roberta-large", "roberta-base", "bort"], subject="bort", lengths=[128], threads=threads,
                      warmup_runs=1, repeats=3, min_seconds=1.0, fast_paths=["torch-int8", "onnx-int8"], out=str(out))
    results = run_bench(cfg, progress=lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True))
    print(write_reports(results, out))


def pretrain(out: Path, **overrides) -> dict:
    from bort.data import CORPUS_DIR
    from bort.pretrain.config import PretrainConfig
    from bort.pretrain.trainer import pretrain as run_pretraining

    shutil.rmtree(out, ignore_errors=True)  # the quickstart starts each model afresh
    values = dict(corpus=[str(CORPUS_DIR)], out=str(out), seq_len=128, batch_size=16, lr=1e-3, schedule="linear",
                  eval_every=50, save_every=100, val_batches=8, log_every=10, seed=0, cache_dir=str(out.parent / "cache"))
    values.update(overrides)
    values.setdefault("warmup_steps", max(1, round(0.06 * values["max_steps"])))
    final = run_pretraining(PretrainConfig(**values))
    base = final["baseline_most_frequent"]["accuracy"]
    print(f"    held-out MLM accuracy {final['val_mlm_accuracy']:.3f} vs {base:.3f} for always predicting the "
          f"most frequent token ({final['val_targets']} masked tokens from unseen passages)")
    return final


def search(teacher_dir: Path, out: Path, cfg: QuickstartConfig) -> dict:
    from bort.data import CORPUS_DIR
    from bort.search.config import SearchConfig
    from bort.search.runner import search as run_search

    shutil.rmtree(out, ignore_errors=True)
    summary = run_search(SearchConfig(teacher=str(teacher_dir), corpus=[str(CORPUS_DIR)], out=str(out), space="tiny",
                                      steps=cfg.search_steps, lr=0.05, batch_size=8, seq_len=128, val_batches=4,
                                      latency_seq_len=128, latency_threads=cfg.threads, latency_repeats=5, seed=0,
                                      cache_dir=str(out.parent / "cache")))
    best = summary["best"]
    print(f"    {summary['candidates_kept']} candidates in {summary['total_seconds']:.0f} s; best by W: "
          f"⟨{','.join(map(str, best['arch']))}⟩ — {best['p'] / 1e6:.2f}M parameters, {best['latency']:.2f} ms vs the "
          f"teacher's {summary['p_T'] / 1e6:.2f}M and {summary['latency_T']:.2f} ms, ê {best['error']:.3f}, "
          f"W {best['W']:.3g} (ranking in {out / 'report.md'})")
    return best


def finetune(model_dir: Path, out: Path, epochs: int) -> None:
    from bort.data import SST2_SAMPLE_DIR
    from bort.finetune.config import FinetuneConfig
    from bort.finetune.plain import finetune as run_finetuning

    shutil.rmtree(out, ignore_errors=True)
    result = run_finetuning(FinetuneConfig(model=str(model_dir), task="glue/SST-2", data=str(SST2_SAMPLE_DIR),
                                           out=str(out), epochs=epochs, batch_size=32, lr=1e-3, warmup_ratio=0.06,
                                           max_len=64, patience=3, seed=0))
    print(f"    SST-2 dev accuracy {result['dev']['accuracy']:.3f} vs {result['majority_baseline']['accuracy']:.3f} for "
          f"the majority class ({result['dev_examples']} dev sentences, best epoch {result['best_epoch']})")
