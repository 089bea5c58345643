"""``bort export --auto`` / ``--path NAME``: the fastest faithful way to run a model on this CPU, written with
a record of how it was chosen.

Every candidate path (:mod:`bort.inference.paths`) this CPU can run is built from the model, checked for
parity with eager fp32 (on the task's dev set when ``--task`` is given, else on a fixed batch), scored on
the task, and timed beside eager in the same interleaved rounds; :func:`bort.inference.choice.choose`
picks one. The output directory holds the chosen artefact (``model.onnx``, or the model's own
safetensors for a PyTorch path), the tokenizer, and ``export.json``: the choice and why, the CPU and its
flags, every candidate's figures and the settings it was made with (a re-run on the same directory keeps it
when they match; ``--restart`` exports again). :func:`bort.inference.loader.load` runs it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bort.checkpoint import load_model
from bort.errors import BortError, first_line
from bort.inference import onnx_runtime, paths
from bort.inference.card import export_card
from bort.inference.choice import MAX_POINTS_LOST, Candidate, Choice, choose
from bort.inference.config import AUTO_MIN_COSINE, ExportConfig
from bort.inference.loader import RECORD_FILE
from bort.inference.parity import parity
from bort.measure.device import SIMD_FLAGS, cpu_flags, device_record
from bort.measure.interleaved import time_interleaved
from bort.measure.latency import LatencyProtocol, fixed_input
from bort.tokenizer.load import TOKENIZER_FILES, require_tokenizer
from bort.util.io import write_json_atomic
from bort.util.run_dir import check_apart, check_output_dir, make_dirs, remove_run_dir

ONNX_FILE = "model.onnx"
PARITY_PROTOCOL = LatencyProtocol(batch_size=2, seq_len=64)  # the fixed batch parity is checked on without --task


def dev_batches(cfg: ExportConfig, model) -> tuple[list[dict], Callable[[np.ndarray], float]] | None:
    """The task's dev set as batches of 32, and ``score(outputs) -> points`` of its first metric; None without
    --task."""
    if cfg.task is None:
        return None
    from bort.checkpoint import check_fits
    from bort.tasks.custom import resolve_task
    from bort.tasks.encode import collate, encode
    from bort.tasks.predict import score
    from bort.tokenizer import load_tokenizer

    if not type(model).__name__.endswith("ForSequenceClassification"):
        raise BortError(f"--task {cfg.task}: {cfg.model_dir} has no task head (it is a {type(model).__name__}); give "
                        "a fine-tuned classifier (bort finetune's --out)")
    task = resolve_task(cfg, model.config)
    examples = task.read(Path(cfg.data or ""), "dev")
    tokenizer = load_tokenizer(cfg.model_dir)
    check_fits(Path(cfg.model_dir), model.config, tokenizer, cfg.max_len)
    encoded = encode(tokenizer, examples, cfg.max_len)
    segments = onnx_runtime.SEGMENTS in onnx_runtime.input_names(model)  # BERT's pairs: every path takes them
    batches = []
    for start in range(0, len(examples), 32):
        batch = collate(encoded, list(range(start, min(start + 32, len(examples)))), tokenizer.pad_token_id)
        if not segments:
            batch.pop(onnx_runtime.SEGMENTS, None)
        batches.append(batch)
    metric = task.metrics[0]
    return batches, lambda outputs: 100 * score(task, examples, outputs)[metric]


def _check_lengths(cfg: ExportConfig, config) -> None:
    """The timed input's tokens must fit the model's positions (the fixed parity batch is cut to fit)."""
    from bort.architecture.hf_config import usable_positions

    usable = usable_positions(config)
    if usable is not None and cfg.seq_len > usable:
        raise BortError(f"--seq-len {cfg.seq_len} exceeds the model's {usable} usable positions "
                        f"({Path(cfg.model_dir) / 'config.json'})")


def parity_batch(model) -> dict:
    """The fixed batch parity is checked on without --task: 2 × 64 tokens, fewer where the model has fewer
    positions; pairs when it has segments."""
    from bort.architecture.hf_config import usable_positions

    tokens = min(PARITY_PROTOCOL.seq_len, usable_positions(model.config) or PARITY_PROTOCOL.seq_len)
    protocol = LatencyProtocol(batch_size=PARITY_PROTOCOL.batch_size, seq_len=tokens)
    return onnx_runtime.with_segments(fixed_input(model.config.vocab_size, protocol), model)


def _outputs(run, batches: list[dict]) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate([paths.as_numpy(run(batch)) for batch in batches])


def weights_digest(model_dir: str | Path) -> str:
    """The sha1 of a model directory's safetensors files: what an export was made from."""
    import hashlib

    digest = hashlib.sha1()
    for weights in sorted(Path(model_dir).glob("*.safetensors")):
        digest.update(weights.name.encode() + b"\0" + weights.read_bytes())
    return digest.hexdigest()


def kept_export(cfg: ExportConfig, out: Path, progress: Callable[[str], None]) -> dict:
    """A re-run on the same --out: the export there is kept when it was made with the same settings (its record,
    with ``"kept": True``), refused when a setting changed."""
    try:
        record = json.loads((out / RECORD_FILE).read_text(encoding="utf-8"))
        saved = ExportConfig.from_dict(record["config"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, BortError) as exc:
        raise BortError(f"{out / RECORD_FILE} does not say which settings made it ({first_line(exc)}); pass --restart "
                        "to export again, or choose another --out")
    changed = saved.differences(dataclasses.replace(cfg, threads=cfg.threads or torch.get_num_threads()))
    if changed:
        raise BortError(f"{out} holds an export with other settings ({', '.join(changed)} changed; "
                        f"{out / RECORD_FILE} holds the original); pass --restart to export again, or choose another "
                        "--out")
    if record.get("model_weights") != weights_digest(cfg.model_dir):
        raise BortError(f"{out} holds an export of other weights: {cfg.model_dir} changed since (its "
                        f"model.safetensors); pass --restart to export it again, or choose another --out")
    progress(f"kept     {record['path']}, already exported to {out} with the same settings (--restart exports again)")
    return {**record, "kept": True}


def export_auto(cfg: ExportConfig, progress: Callable[[str], None] = print) -> dict:
    """Choose (``--auto``) or check (``--path``) a path, write it to ``cfg.out``; returns the record. An export
    already in ``cfg.out`` with the same settings is kept; ``--restart`` exports again."""
    out = check_output_dir(cfg.out)
    if out.exists() and any(out.iterdir()) and not (out / RECORD_FILE).is_file():
        raise BortError(f"--out {out} is not empty; choose a new directory (nothing is overwritten)")
    check_apart(out, {"MODEL_DIR": cfg.model_dir})
    if (out / RECORD_FILE).is_file() and not cfg.restart:
        return kept_export(cfg, out, progress)
    if cfg.path:
        missing = paths.missing_instructions(cfg.path)
        if missing:
            raise BortError(f"--path {cfg.path} needs {missing}, which this CPU lacks (flags: "
                            f"{', '.join(sorted(cpu_flags() & set(SIMD_FLAGS))) or 'none of them'}); "
                            "nothing written")
    model = load_model(cfg.model_dir).eval()
    require_tokenizer(cfg.model_dir)  # an export serves text: its tokenizer is copied in beside the weights
    _check_lengths(cfg, model.config)
    task = dev_batches(cfg, model)
    if cfg.path:  # the path, timed and checked against eager
        names = list(dict.fromkeys(["eager", cfg.path]))
    else:  # in the registry's order, simplest first, whatever order they were given in
        names = [name for name in paths.PATHS if name == "eager" or name in cfg.candidates]
    min_cosine = cfg.min_cosine if cfg.min_cosine is not None else AUTO_MIN_COSINE
    # One thread count for every runtime: PyTorch's and ONNX Runtime's paths compared on equal terms.
    cfg = dataclasses.replace(cfg, threads=cfg.threads or torch.get_num_threads())
    protocol = cfg.protocol()
    created = make_dirs(out.parent)
    try:
        return _choose_and_write(cfg, model, task, names, min_cosine, protocol, out, progress)
    except BaseException:
        if created is not None:  # a refused or failed export leaves nothing behind, not even the folders it made
            shutil.rmtree(created, ignore_errors=True)
        raise


def _choose_and_write(cfg: ExportConfig, model, task, names: list[str], min_cosine: float, protocol, out: Path,
                      progress) -> dict:
    timed_input = fixed_input(model.config.vocab_size, protocol)
    check_batches = task[0] if task else [parity_batch(model)]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        work = Path(work)
        candidates, runners = _build_candidates(names, model, work / "candidates", cfg.threads, progress)
        reference = _outputs(runners["eager"], check_batches)
        eager_points = task[1](reference) if task else None
        for candidate in candidates:
            if candidate.name not in runners:
                continue
            try:
                outputs = reference if candidate.name == "eager" else _outputs(runners[candidate.name], check_batches)
            except Exception as exc:  # noqa: BLE001 — a compiler or runtime failing on this model: recorded, not fatal
                candidate.skipped = f"failed on the check batches: {first_line(exc)}"
                progress(f"skipped  {candidate.name}: {candidate.skipped}")
                del runners[candidate.name]
                continue
            candidate.cosine = parity(reference, outputs).cosine
            if task:
                candidate.points = task[1](outputs)
                candidate.points_lost = eager_points - candidate.points
            progress(f"checked  {candidate.name:<16} cosine {candidate.cosine:.6f}"
                     + (f", {cfg.task} {candidate.points:.2f} (eager {eager_points:.2f})" if task else ""))
        for candidate in candidates:  # the timed shape may be new to a path (a compiler specialises on shapes)
            if candidate.name in runners and candidate.name != "eager":
                try:
                    _outputs(runners[candidate.name], [timed_input])
                except Exception as exc:  # noqa: BLE001 — recorded, not fatal
                    candidate.skipped = f"failed on the timed input: {first_line(exc)}"
                    progress(f"skipped  {candidate.name}: {candidate.skipped}")
                    del runners[candidate.name]
        forwards = {name: (lambda run=run: run(timed_input)) for name, run in runners.items()}
        progress(f"timing   {len(forwards)} paths at {protocol.batch_size} × {protocol.seq_len} tokens in interleaved "
                 "rounds ...")
        rounds = time_interleaved(forwards, protocol, reference="eager",
                                  on_round=lambda r, rs: (progress(f"round {r}, {rs.seconds:.0f} s")
                                                          if r % 5 == 0 else None))
        for candidate in candidates:
            if candidate.name in runners:
                candidate.rounds_ms = rounds.rounds_ms[candidate.name]
        if cfg.path:  # the user's path, written when it passes the bar, whatever its speed
            refusal = next(c for c in candidates if c.name == cfg.path).refusal(min_cosine, MAX_POINTS_LOST)
            if refusal:
                raise BortError(f"--path {cfg.path} fails the bar: {refusal}; nothing written")
            choice = Choice(cfg.path, choose(candidates, min_cosine).fastest, "asked for with --path; meets the bar")
        else:
            choice = choose(candidates, min_cosine)
        progress(f"chosen   {choice.name}: {choice.reason}")
        staged = work / "out"
        staged.mkdir()
        artefact = _write_artefact(choice.name, model, work / "candidates", staged)
        _copy_tokenizer(Path(cfg.model_dir), staged)
        record = _record(cfg, choice, candidates, rounds, min_cosine, artefact, eager_points)
        write_json_atomic(staged / RECORD_FILE, record)
        export_card(staged, cfg, record, model)  # README.md: the path, its speed-up on this CPU, the command
        if out.exists():  # empty (checked above), or the earlier export (--restart), replaced only now
            remove_run_dir(out) if cfg.restart else out.rmdir()
        staged.rename(out)
    return record


def _build_candidates(names, model, folder: Path, threads, progress) -> tuple[list[Candidate], dict]:
    folder.mkdir()
    candidates, runners = [], {}
    for name in names:
        candidate = Candidate(name=name, rounds_ms=[])
        candidates.append(candidate)
        missing = paths.missing_instructions(name)
        if missing:
            candidate.skipped = f"this CPU lacks {missing}"
            progress(f"skipped  {name}: {candidate.skipped}")
            continue
        progress(f"building {name} ({paths.PATHS[name].description})")
        try:
            runners[name] = paths.build_runner(name, model, folder, threads)
        except Exception as exc:  # noqa: BLE001 — a compiler or exporter that fails on this model: recorded, not fatal
            candidate.skipped = f"could not be built: {first_line(exc)}"
            progress(f"skipped  {name}: {candidate.skipped}")
    return candidates, runners


def _write_artefact(name: str, model, candidates_folder: Path, staged: Path) -> str:
    """The chosen path's file(s) in ``staged``; returns the file the loader opens."""
    if paths.PATHS[name].runtime == "onnx":
        shutil.copy2(paths.onnx_file(name, model, candidates_folder), staged / ONNX_FILE)
        model.config.save_pretrained(staged)  # labels and sizes, for whoever reads the outputs
        return ONNX_FILE
    model.save_pretrained(staged, safe_serialization=True)
    return "model.safetensors"


def _copy_tokenizer(source: Path, staged: Path) -> None:
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, staged / name)


def _record(cfg: ExportConfig, choice, candidates: list[Candidate], rounds, min_cosine: float, artefact: str,
            eager_points: float | None) -> dict:
    spec = paths.PATHS[choice.name]
    figures = {}
    for candidate in candidates:
        entry: dict = {"description": paths.PATHS[candidate.name].description,
                       "precision": paths.PATHS[candidate.name].precision}
        if candidate.skipped:
            entry["skipped"] = candidate.skipped
        else:
            latency, speedup = rounds.latency(candidate.name), rounds.ratio("eager", candidate.name)
            entry.update(ms={"median": latency.median, "low": latency.low, "high": latency.high},
                         speedup_over_eager={"median": speedup.median, "low": speedup.low, "high": speedup.high},
                         cosine=candidate.cosine)
            if candidate.points_lost is not None:
                entry.update(task_score=candidate.points, points_lost=candidate.points_lost)
            refusal = candidate.refusal(min_cosine)
            if refusal:
                entry["refused"] = refusal
        figures[candidate.name] = entry
    flags = cpu_flags()
    return {
        "path": choice.name, "runtime": spec.runtime, "precision": spec.precision, "file": artefact,
        "description": spec.description, "mode": "auto" if cfg.auto else "path", "reason": choice.reason,
        "fastest": choice.fastest, "model_dir": str(cfg.model_dir),
        "bar": {"min_cosine": min_cosine, "max_points_lost": MAX_POINTS_LOST if cfg.task else None, "task": cfg.task,
                "eager_task_score": eager_points},
        "timed": {"batch": cfg.batch, "seq_len": cfg.seq_len, "threads": cfg.threads, "rounds": rounds.rounds,
                  "stopped_by": rounds.stopped_by},
        "cpu": {"name": device_record("cpu").device_name, "flags": sorted(flags & set(SIMD_FLAGS)),
                "torch_capability": torch.backends.cpu.get_cpu_capability()},
        "device": device_record("cpu", cfg.threads).as_dict(),
        "candidates": figures,
        "config": cfg.to_dict(),  # the settings (threads resolved) a re-run on the same --out is compared with
        "model_weights": weights_digest(cfg.model_dir),  # and the model: fine-tuned again, it is exported again
    }
