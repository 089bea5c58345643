"""``bort export``: one ONNX file, or the fastest faithful path on this CPU (--auto), parity-checked."""

from __future__ import annotations

from pathlib import Path

from bort.config import HelpFormatter, add_options
from bort.inference.config import ExportConfig
from bort.inference.paths import PATHS

PATH_LINES = "\n".join(f"  {spec.name:<16} {spec.description}" for spec in PATHS.values())

DESCRIPTION = f"""\
Serve a Hugging Face model directory (any BERT/RoBERTa encoder, with or without a head) on a CPU.

--auto  times every path this CPU can run (below) beside eager fp32, in the same interleaved
        rounds, and checks each one's outputs against eager's: parity (cosine ≥ --min-cosine,
        0.999 by default) and, with --task/--data, the dev score (at most 0.5 point below eager).
        It keeps the fastest path that passes — a simpler one (earlier in the list) when their
        times tie within the 95% interval — and writes it to --out DIR with export.json (the
        choice and why, the CPU's flags, every candidate's figures, the settings). Re-running the
        same command keeps that export (a changed setting is refused; --restart exports again).
        Then, in Python:
            model = bort.inference.load(DIR); logits = model(input_ids, attention_mask)
            (a BERT's sentence pairs: model(input_ids, attention_mask, token_type_ids))
--path NAME  the same for one path (refused when this CPU lacks its instruction set, or when it
        fails the bar; nothing is written).
--onnx  one ONNX file (--int8 quantizes it, --optimize fuses it), parity-checked, at --out FILE.

Paths, simplest first:
{PATH_LINES}"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="the fastest faithful CPU path (--auto), or one ONNX file",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, ExportConfig)
    p.set_defaults(run=run, config_class=ExportConfig)


def run(cfg: ExportConfig) -> int:
    if cfg.onnx:
        from bort.inference.export import export

        export(cfg, progress=lambda message: print(message, flush=True))
        print(f"wrote {cfg.out} ({Path(cfg.out).stat().st_size / 2**20:.1f} MiB)")
        return 0
    from bort.inference.auto_export import export_auto
    from bort.util.table import format_table

    record = export_auto(cfg, progress=lambda message: print(f"[export] {message}", flush=True))
    rows = []
    for name, entry in record["candidates"].items():
        if "skipped" in entry:
            rows.append([name, "", "", "", "", entry["skipped"]])
            continue
        s = entry["speedup_over_eager"]
        rows.append([name + (" ◀" if name == record["path"] else ""), f"{entry['ms']['median']:.2f}",
                     f"{s['median']:.2f} [{s['low']:.2f}, {s['high']:.2f}]", f"{entry['cosine']:.6f}",
                     f"{entry['task_score']:.2f}" if "task_score" in entry else "", entry.get("refused", "")])
    print(format_table(["path", "ms", "speed-up [95%]", "cosine", record["bar"]["task"] or "task", "refused"], rows))
    print(f"chose {record['path']}: {record['reason']}\n{'kept' if record.get('kept') else 'wrote'} {cfg.out} "
          f"({record['file']}, export.json)")
    return 0
