"""``bort extract``: a student cut out of its teacher, written as a Hugging Face directory.

Read top to bottom: the inputs are checked (teacher, shape, corpus, output) before anything is
written; the calibration batches are drawn from the corpus; the teacher's units are scored
(:mod:`bort.extract.importance`); the kept sets are chosen (:mod:`bort.extract.selection`); the
teacher's state dict is cut down (:mod:`bort.extract.slicing`) into a model of the teacher's own
class; everything lands in a staging folder renamed into place, so ``--out`` holds a whole student
or nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from bort.architecture import Arch, count_params
from bort.architecture.build import numel
from bort.architecture.hf_config import arch_of, student_config, usable_positions, vocab_of
from bort.checkpoint import (check_weights, has_classification_head, has_masked_lm_head, load_config, load_config_file,
                             load_model, save_model_dir)
from bort.errors import BortError, first_line
from bort.extract.config import ExtractConfig
from bort.extract.importance import Importance, measure_importance
from bort.extract.selection import REPORT_FILE, Selection, check_fits, select
from bort.extract.slicing import slice_state_dict
from bort.extract.task_calibration import task_calibration
from bort.mlm.corpus import resolve_corpus
from bort.mlm.dataset import PackedSplit, build_splits
from bort.mlm.masking import mask_batch
from bort.extract.card import extraction_card
from bort.tokenizer import tokenizer_for_model
from bort.util.io import save_figure, write_json_atomic
from bort.util.run_dir import Resume, RunDirectory, check_apart, check_output_dir, remove_run_dir

CONFIG_FILE = "extract_config.json"
PLOT_FILE = "importance.png"


def read_arch(cfg: ExtractConfig) -> Arch:
    """The student's ⟨D,A,H,I⟩ from --arch or from --config's config.json."""
    return Arch(*cfg.arch) if cfg.arch is not None else arch_of(load_config_file(cfg.student_config))


def calibration_batches(corpus: list[str], tokenizer, n_batches: int, batch_size: int, seq_len: int, seed: int,
                        cache_dir: Path, text_field: str = "text") -> list[dict[str, torch.Tensor]]:
    """``n_batches`` batches of ``batch_size`` sequences drawn (seeded) from the corpus: input_ids and
    attention_mask (B, S). Refused when the corpus holds fewer sequences than that."""
    train, _ = build_splits(resolve_corpus(corpus, text_field), tokenizer, seq_len, cache_dir, val_fraction=0.01,
                            seed=seed)
    return calibration_sample(train, n_batches, batch_size, seed)


def calibration_sample(split: PackedSplit, n_batches: int, batch_size: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """``n_batches`` batches of ``batch_size`` rows of ``split``, drawn without replacement (seeded)."""
    needed = n_batches * batch_size
    if len(split) < needed:
        raise BortError(f"the corpus is too small for calibration: {len(split)} sequences of {split.ids.shape[1]} "
                        f"tokens, {needed} needed (--calibration-batches {n_batches} × --batch-size {batch_size})")
    rows = np.random.default_rng(seed).permutation(len(split))[:needed]
    return [split.batch(np.sort(rows[k * batch_size:(k + 1) * batch_size])) for k in range(n_batches)]


def masked_copies(batches: list[dict], tokenizer, mask_prob: float,
                  seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(masked input_ids, labels) of each batch, for the Taylor scores' masked-LM loss."""
    generator = torch.Generator().manual_seed(seed)
    return [mask_batch(b, tokenizer, generator, mask_prob) for b in batches]


def extract_model(teacher, importance: Importance, arch: Arch, layers: str = "importance"):
    """(student, selection): a model of the teacher's class and head, shaped ``arch``, holding the kept part of
    the teacher's weights."""
    selection = select(importance, arch_of(teacher.config), arch, layers)
    return student_from_selection(teacher, selection, arch), selection


def extracted_state(teacher, importance: Importance, arch: Arch, layers: str = "importance") -> dict:
    """The state dict of ``arch`` cut out of ``teacher`` (without building the student)."""
    return slice_state_dict(teacher.state_dict(), select(importance, arch_of(teacher.config), arch, layers))


def student_from_selection(teacher, selection: Selection, arch: Arch):
    """A model of ``teacher``'s class shaped ``arch`` whose weights are the teacher's, cut by ``selection``."""
    config = student_config(teacher.config, arch)
    kwargs = {"add_pooling_layer": teacher.pooler is not None} if hasattr(teacher, "pooler") else {}
    student = teacher.__class__(config, **kwargs)
    student.load_state_dict(slice_state_dict(teacher.state_dict(), selection), strict=True)
    return student.eval()


def read_scores(path: str | Path, teacher: Arch) -> Importance:
    """Saved importance scores (a search's importance.json or an extraction.json) for a teacher of shape ``teacher``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        importance = Importance.from_dict(data.get("importance", data))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BortError(f"--scores {path}: not saved importance scores ({type(exc).__name__}: {exc})")
    shape = (len(importance.layers), importance.heads.shape[1], len(importance.channels), importance.neurons.shape[1])
    if shape != (teacher.depth, teacher.heads, teacher.hidden, teacher.intermediate):
        raise BortError(f"--scores {path} scores a teacher ⟨{','.join(map(str, shape))}⟩, not this one {teacher}")
    return importance


def plot_importance(importance: Importance, selection: Selection, path: Path) -> Path:
    """importance.png: layer scores (kept ones marked), head scores per layer (kept ones outlined),
    neuron and channel scores in rank order with the cut."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    n_layers = len(importance.layers)
    colours = ["tab:blue" if i in selection.layers else "lightgrey" for i in range(n_layers)]
    axes[0].bar(range(n_layers), importance.layers.numpy(), color=colours)
    axes[0].set(title="layers: 1 − cos when skipped (kept in blue)", xlabel="teacher layer")
    image = axes[1].imshow(importance.heads.numpy(), aspect="auto", cmap="viridis")
    for j, layer in enumerate(selection.layers):
        for group in selection.heads[j]:
            for head in group:
                axes[1].add_patch(plt.Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
    axes[1].set(title=f"heads (kept outlined; rule: {selection.head_rule})", xlabel="head", ylabel="teacher layer")
    fig.colorbar(image, ax=axes[1])
    first = selection.layers[0]
    for label, scores, kept in ((f"FFN neurons, layer {first}", importance.neurons[first], len(selection.neurons[0])),
                                ("hidden channels", importance.channels, len(selection.channels))):
        ordered = torch.sort(scores / scores.max(), descending=True).values.numpy()
        axes[2].plot(np.arange(len(ordered)) / len(ordered), ordered, label=f"{label} ({kept}/{len(ordered)} kept)")
        axes[2].axvline(kept / len(ordered), ls="--", lw=0.8, color=axes[2].lines[-1].get_color())
    axes[2].set(title="scores in rank order (cut dashed)", xlabel="share of units", ylabel="score / max")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def check_teacher(cfg: ExtractConfig, arch: Arch):
    """The teacher's config, its weights readable, the student within its shape, the calibration within its
    positions. Returns (config, tokenizer)."""
    config = load_config(cfg.teacher)
    classifier = has_classification_head(config)
    heads = [a for a in (config.architectures or []) if not a.endswith(("Model", "ForMaskedLM"))]
    if cfg.task is not None and not classifier:
        raise BortError(f"--task {cfg.task} extracts from a classifier fine-tuned on it; {cfg.teacher} is "
                        f"{(config.architectures or ['a bare encoder'])[0]} (fine-tune it first with `bort finetune`)")
    if heads and cfg.task is None:
        raise BortError(f"{cfg.teacher} is a {heads[0]}: give --task (and its data) to extract from a fine-tuned "
                        "classifier, keeping its head; without it bort extracts from a bare encoder or a masked LM")
    check_weights(cfg.teacher)
    check_fits(arch, arch_of(config), f"the teacher {cfg.teacher}")
    if cfg.importance == "taylor" and cfg.task is None and not has_masked_lm_head(config):
        raise BortError(f"--importance taylor needs a masked-LM teacher; {cfg.teacher} is "
                        f"{(config.architectures or ['a bare encoder'])[0]} (use --importance activation)")
    tokenizer = tokenizer_for_model(cfg.teacher)
    if len(tokenizer) > config.vocab_size:
        raise BortError(f"{cfg.teacher}: its tokenizer ({len(tokenizer)} tokens) does not fit its embedding "
                        f"({config.vocab_size} rows)")
    usable = usable_positions(config)
    if usable is not None and cfg.seq_len > usable:
        raise BortError(f"--seq-len {cfg.seq_len} exceeds the teacher's {usable} usable positions")
    return config, tokenizer


def kept_extraction(out: Path) -> dict:
    """A re-run with the same settings on the same --out: the extraction there is kept (its report, with
    ``"kept": True``)."""
    try:
        report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BortError(f"cannot read the earlier extraction's {out / REPORT_FILE} ({first_line(exc)}); pass "
                        "--restart to extract again")
    return {**report, "kept": True}


def extract(cfg: ExtractConfig, show_progress: bool = True) -> dict:
    """Run the extraction; returns the report written to ``OUT/extraction.json``. An extraction already in
    ``OUT`` with the same settings is kept (``"kept": True``); ``--restart`` extracts again."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    # --out holds nothing but an earlier extraction (the student is renamed onto it at the end): the same settings
    # keep it, other settings are refused, --restart replaces it once the new student is whole.
    run_dir = RunDirectory(cfg.out, config_file=CONFIG_FILE)
    out = run_dir.path
    run_dir.check({"--teacher": cfg.teacher, "--config": cfg.student_config, "--scores": cfg.scores}, anything=True)
    if not cfg.restart and run_dir.resume(cfg) is Resume.CONTINUING:
        return kept_extraction(out)
    if cfg.cache_dir:
        check_output_dir(cfg.cache_dir, "--cache-dir")
        check_apart(out, {"--cache-dir": cfg.cache_dir})
    arch = read_arch(cfg)
    teacher_config, tokenizer = check_teacher(cfg, arch)
    saved = read_scores(cfg.scores, arch_of(teacher_config)) if cfg.scores else None
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else staging / "token_cache"
        teacher = load_model(cfg.teacher)
        if saved is not None:
            importance = saved
        else:
            if cfg.task is not None:  # the task's own inputs, and its loss for Taylor scores
                batches, labelled = task_calibration(cfg, tokenizer, teacher_config)
                masked = labelled if cfg.importance == "taylor" else None
            else:
                batches = calibration_batches(cfg.corpus, tokenizer, cfg.calibration_batches, cfg.batch_size,
                                              cfg.seq_len, cfg.seed, cache_dir, cfg.text_field)
                masked = masked_copies(batches, tokenizer, cfg.mask_prob, cfg.seed) if cfg.importance == "taylor" \
                    else None
            with tqdm(total=len(batches), desc=f"importance ({cfg.importance})", unit="batch",
                      disable=not show_progress, dynamic_ncols=True) as bar:
                importance = measure_importance(teacher, batches, cfg.importance, masked,
                                                progress=lambda done, total: bar.update(1))
        student, selection = extract_model(teacher, importance, arch, cfg.layers)
        if not cfg.cache_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)
        save_model_dir(student, tokenizer, staging)
        parameters = numel(student)
        breakdown = count_params(arch, vocab_of(teacher_config))
        report = {"teacher": str(cfg.teacher), "teacher_arch": arch_of(teacher_config).as_list(),
                  "arch": arch.as_list(), "parameters": parameters, "encoder_parameters": breakdown.encoder,
                  "teacher_encoder_parameters": count_params(arch_of(teacher_config)).encoder,
                  "exact_selection": selection.exact, "selection": selection.to_dict(),
                  "importance": importance.to_dict(), "seconds": time.perf_counter() - started,
                  **({"task": cfg.task, "classifier": True} if cfg.task is not None else {})}
        write_json_atomic(staging / REPORT_FILE, report)
        cfg.save(staging / CONFIG_FILE)
        plot_importance(importance, selection, staging / PLOT_FILE)
        extraction_card(staging, cfg, report)  # README.md: what was kept, the command
        if out.exists():  # empty (checked above), or the earlier extraction (--restart), replaced only now
            remove_run_dir(out) if cfg.restart else out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report
