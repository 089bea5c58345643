"""The model card of ``bort extract``'s student: what was kept of the teacher, how it was chosen, and the latency
ratio the search measured for its shape when the student came out of a search run.

Beside the extractor rather than in :mod:`bort.model_card` because it reads
:class:`~bort.extract.config.ExtractConfig`'s settings and the extraction report: the card writer below knows no
stage.
"""

from __future__ import annotations

from pathlib import Path

from bort.checkpoint import model_name
from bort.measure.recorded import search_latency
from bort.model_card import file_names, usage_text, write_card


def extraction_card(out: str | Path, cfg, report: dict, command: str | None = None) -> Path:
    """The card of ``bort extract``'s student (``out`` may be the staging folder renamed into place after)."""
    sel, teacher_arch, arch = report["selection"], report["teacher_arch"], report["arch"]
    heads = len(sel["heads"][0]) if sel["heads"] else 0
    scored = (f"scores read from `{cfg.scores}`" if cfg.scores else
              f"{cfg.importance} importance on {cfg.calibration_batches} calibration batches of {cfg.batch_size} × "
              f"{cfg.seq_len} tokens (seed {cfg.seed})")
    training = [
        f"Extracted from `{cfg.teacher}` ⟨{', '.join(map(str, teacher_arch))}⟩ by `bort extract`; no training: the "
        "weights are the teacher's own, cut down.",
        f"Kept teacher layers {sel['layers']} of {teacher_arch[0]} (rule: {cfg.layers}); {heads} heads per layer "
        f"of {teacher_arch[1]} ({sel['head_rule']}); {len(sel['channels'])} of {teacher_arch[2]} hidden channels; "
        f"{len(sel['neurons'][0]) if sel['neurons'] else 0} of {teacher_arch[3]} FFN neurons per layer.",
        f"Chosen by {scored}; `extraction.json` holds the kept indices and the scores.",
        f"Encoder parameters: {report['encoder_parameters']:,} of the teacher's "
        f"{report['teacher_encoder_parameters']:,}.",
    ]
    latency = search_latency(arch, cfg.student_config, cfg.scores)
    return write_card(out, title=Path(cfg.out).name, stage="extract", config=cfg, command=command,
                      summary=f"A ⟨{', '.join(map(str, arch))}⟩ student cut out of `{model_name(cfg.teacher)}` "
                              "with the teacher's own weights by bort (Optimal Subarchitecture Extraction for BERT). "
                              "Distil it (`bort pretrain --mode kd --init`) before fine-tuning.",
                      base_model=model_name(cfg.teacher), datasets=file_names(cfg.corpus), training=training,
                      tags=("extraction",), latency=latency, usage=usage_text("fill-mask", Path(cfg.out).name))
