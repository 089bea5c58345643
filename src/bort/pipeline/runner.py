"""``bort pipeline``: run the stages in order, each resumed, reused or started over by one rule.

A stage is *reused* when its saved settings and input files are those of this run and it finished;
*continued* (the command's own resume) when they are and it did not; *started over* when they
changed, or a stage before it was not reused — and then every stage after it starts over too. The
record of each stage (``pipeline_state.json``) is written before it runs and again when it ends, so
a kill at any moment leaves a state that a re-run reads correctly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Callable

from bort.config import command_line
from bort.errors import BortError
from bort.pipeline.config import PipelineConfig, load_pipeline
from bort.pipeline.preflight import preflight
from bort.pipeline.stages import Stage, plan
from bort.util.io import write_json_atomic
from bort.util.run_dir import RunDirectory, remove_run_dir

STATE = "pipeline_state.json"
# The fields that name what a stage reads: the user's files, and the models (the user's teacher and Socrates, or an
# earlier stage's output: unchanged while that stage is reused).
INPUT_FIELDS = ("corpus", "data", "train", "dev", "test", "holdout", "theta", "space", "teacher", "init", "model",
                "model_dir", "models", "socrates", "phi_model", "scores", "student_config", "unlabeled")
HASHED_BYTES = 16 * 2**20  # smaller input files are fingerprinted by content, larger ones by size and time


def _fingerprint(path: Path) -> list:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    marks = []
    for f in files:
        stat = f.stat()
        if stat.st_size <= HASHED_BYTES:
            marks.append([str(f), hashlib.sha1(f.read_bytes()).hexdigest()])
        else:
            marks.append([str(f), stat.st_size, stat.st_mtime_ns])
    return marks


def input_marks(stage: Stage) -> dict:
    """The stage's own input files (corpus, task files), by content: an edited file restarts its stage."""
    marks = {}
    for name in INPUT_FIELDS:
        value = getattr(stage.config, name, None)
        for given in (value if isinstance(value, list) else [value]):
            if isinstance(given, str) and Path(given).exists():
                marks[given] = _fingerprint(Path(given))
    return marks


def decide(stage: Stage, record: dict | None, upstream_restarted: bool) -> tuple[str, str]:
    """(action, why): ``reuse``, ``continue`` or ``run`` (from scratch)."""
    if record is None:
        return "run", "not run yet"
    if upstream_restarted:
        return "run", "a stage before it changes"
    saved = type(stage.config).from_dict(record["config"])
    changed = saved.differences(stage.config)
    if changed:
        return "run", f"settings changed: {', '.join(changed)}"
    if record.get("inputs") != input_marks(stage):
        return "run", "its input files changed"
    if record.get("done") and record["config"] == stage.config.to_dict():
        return "reuse", "finished with these settings"
    return "continue", "interrupted" if not record.get("done") else "resumable settings changed"


def _run_stage(stage: Stage) -> dict:
    """Run one stage through the Python API; its result as JSON-ready values."""
    import bort.api as api

    run = {"search": api.search, "extract": api.extract, "pretrain": api.pretrain, "finetune": api.finetune,
           "export": api.export, "bench": api.bench}[stage.command]
    result = run(stage.config)
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if stage.command == "bench":
        values["ratios"] = {f"{b}x{n}": rows for (b, n), rows in result.ratios.items()}
        values["cpu"] = result.raw["setup"]["device"].get("device_name")
    return json.loads(json.dumps(values, default=str))


def state_before(path: Path) -> dict:
    """The stages an earlier run recorded (each made its folder), whatever this run does with them."""
    return json.loads(path.read_text(encoding="utf-8")).get("stages", {}) if path.is_file() else {}


def check_foreign_folders(stages: list[Stage], recorded: set[str]) -> None:
    """A stage starts over by deleting its folder: refused when the folder holds something this pipeline did not
    make (``out: .`` beside a ``bench/`` of the user's, an old run's ``teacher/``)."""
    for stage in stages:
        if stage.name not in recorded and stage.out.is_dir() and any(stage.out.iterdir()):
            raise BortError(f"{stage.out} already holds files this pipeline did not write (no record of its "
                            f"{stage.name} stage in {STATE}); move them, or choose another out")


def run_pipeline(config: PipelineConfig | str | Path, dry_run: bool = False, restart: bool = False,
                 show: Callable[[str], None] = print, before: Callable[[Stage], None] | None = None,
                 after: Callable[[Stage, dict], None] | None = None) -> dict:
    """Run (or, with ``dry_run``, describe) the pipeline; returns the state: each stage's settings and result.

    ``before(stage)`` and ``after(stage, result)`` are called around every stage, reused ones included (the
    quickstart prints its own lines with them)."""
    cfg = config if isinstance(config, PipelineConfig) else load_pipeline(config)
    stages = plan(cfg)
    out = Path(cfg.out)
    state_path = out / STATE
    recorded = state_before(state_path)
    records: dict = {} if restart else dict(recorded)
    preflight(stages, out, cfg.source)  # the whole file checked before the first folder is made
    check_foreign_folders(stages, set(recorded))
    restarted = False
    rows = []
    for stage in stages:
        action, why = decide(stage, records.get(stage.name), restarted)
        restarted = restarted or action != "reuse"  # a continued stage's model changes too
        rows.append((stage, action, why))
    if dry_run:
        for stage, action, why in rows:
            show(f"{stage.name:<24} {action:<9} ({why})\n    {command_line(stage.command, stage.config)}")
        return {"source": cfg.source, "stages": records}
    lock = RunDirectory(out, "out").claim()  # one pipeline per folder; each stage also locks its own

    def save() -> None:
        write_json_atomic(state_path, {"source": cfg.source, "stages": records})

    try:  # (with --restart no stage has a record: each is run, its folder and those after it deleted first)
        started = time.perf_counter()
        for n, (stage, action, why) in enumerate(rows, 1):
            if before:
                before(stage)
            show(f"[{n}/{len(rows)}] {stage.name}: {action} ({why})")
            if action == "reuse":
                if after:
                    after(stage, records[stage.name]["result"])
                continue
            if action == "run":
                remove_run_dir(stage.out)
            # What follows was made from what this stage is about to change: forgotten, and its folder deleted,
            # before it changes (a folder left without its record would later read as the user's own).
            for later, _, _ in rows[n:]:
                if records.pop(later.name, None) is not None or later.name in recorded:
                    remove_run_dir(later.out)
            records[stage.name] = {"command": command_line(stage.command, stage.config),
                                   "config": stage.config.to_dict(), "inputs": input_marks(stage), "done": False}
            save()
            t = time.perf_counter()
            result = _run_stage(stage)
            finished = result.get("finished", True)  # a pre-training stopped by --stop-after or --max-minutes
            records[stage.name].update(done=finished, result=result, seconds=time.perf_counter() - t)
            save()
            if after:
                after(stage, result)
            if not finished:
                show(f"{stage.name} stopped after step {result['step']}; re-run the same command to continue")
                return {"source": cfg.source, "stages": records, "seconds": time.perf_counter() - started,
                        "stopped": stage.name}
        state = {"source": cfg.source, "stages": records, "seconds": time.perf_counter() - started}
        from bort.pipeline.report import write_report

        state["report"] = str(write_report(cfg, stages, records))
        return state
    finally:
        lock.release()
