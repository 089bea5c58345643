"""Tables and a chart for ``bort bench`` results: every figure a median with its 95% interval."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bort.util.io import save_figure, write_json_atomic, write_text_atomic
from bort.util.run_dir import make_dirs
from bort.util.table import format_table


def _interval(median: float, low: float, high: float, digits: int = 2) -> str:
    return f"{median:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _ms(value: float) -> int:
    return 1 if value >= 10 else 2


def cell_table(results: dict, cell: dict, markdown: bool = False) -> str:
    """One batch size and length: ms, ratio to the subject (× slower; below 1: a speed-up), sequences per
    second, and parity with the eager subject."""
    subject = results["subject"]
    headers = ["row", "ms [95% interval]", f"× {subject} [95%]", "speed-up", "seq/s", "cosine", "GOP/s",
               "of its peak"]
    table = []
    for name, row in results["rows"].items():
        if row.get("skipped"):
            table.append([name, f"skipped: {row['skipped']}", "", "", "", "", "", ""])
            continue
        e = cell["rows"][name]
        r = e["ratio_to_subject"]
        table.append([
            name if row["kind"] != "model" else f"{name} (fp32 eager)",
            _interval(e["median_ms"], e["low_ms"], e["high_ms"], _ms(e["median_ms"])),
            _interval(r["median"], r["low"], r["high"]),
            f"{1 / r['median']:.2f}×",
            f"{e['sequences_per_second']['median']:.1f}",
            f"{e['cosine']:.5f}" if "cosine" in e else "",
            f"{e['gops']:.0f}" if "gops" in e else "",
            f"{100 * e['peak_share']:.0f}% {e['precision']}" if "peak_share" in e else "",
        ])
    return format_table(headers, table, markdown)


def roofline_table(cell: dict, markdown: bool = False) -> str:
    """This CPU's peak per precision at the subject's GEMM shapes, with the kernel and instruction set that ran."""
    headers = ["precision", "peak GOP/s", "best shape (M×K×N)", "kernel", "instruction set"]
    table = [[p["precision"], f"{p['gops']:.0f}", "×".join(map(str, p["shape"])), p["kernel"], p["isa"]]
             for p in cell.get("peaks", {}).values()]
    return format_table(headers, table, markdown)


def cell_title(cell: dict) -> str:
    return (f"batch {cell['batch']} × {cell['seq_len']} tokens — {cell['rounds']} interleaved rounds "
            f"({cell['seconds']:.0f} s, stopped by {cell['stopped_by'].replace('_', ' ')})")


def throughput_table(results: dict, markdown: bool = False) -> str:
    """Sequences per second of every row at each batch size (one column per batch × length)."""
    cells = results["cells"]
    headers = ["sequences / s"] + [f"b{c['batch']} × {c['seq_len']}" for c in cells]
    table = [[name] + [f"{c['rows'][name]['sequences_per_second']['median']:.1f}" for c in cells]
             for name, row in results["rows"].items() if not row.get("skipped")]
    return format_table(headers, table, markdown)


def setup_line(results: dict) -> str:
    s = results["setup"]
    d = s["device"]
    return (f"{d['device_name']}, {s['threads']} threads; ratios are medians of per-round ratios over ≥{s['rounds']} "
            f"interleaved rounds with 95% bootstrap intervals; torch {d['torch']}, transformers {d['transformers']}, "
            f"onnxruntime {d['onnxruntime']}")


def plot(results: dict, path: str | Path) -> Path:
    """Horizontal bars of median latency with their 95% intervals (log scale), one panel per batch × length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subject = results["subject"]
    names = [n for n, row in results["rows"].items() if not row.get("skipped")]
    colors = ["#2ca02c" if n == subject else "#1f77b4" if results["rows"][n]["kind"] == "model" else "#ff7f0e"
              for n in names]
    cells = results["cells"]
    fig, axes = plt.subplots(1, len(cells), figsize=(5.5 * len(cells), 0.45 * len(names) + 1.8), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        entries = [cell["rows"][n] for n in names]
        values = [e["median_ms"] for e in entries]
        errors = [[e["median_ms"] - e["low_ms"] for e in entries], [e["high_ms"] - e["median_ms"] for e in entries]]
        y = list(range(len(values)))
        ax.barh(y, values, color=colors, xerr=errors, ecolor="black", capsize=2)
        ax.set_xscale("log")
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel("median latency, ms (log scale; bars: 95% interval)")
        ax.set_title(f"batch {cell['batch']} × {cell['seq_len']} tokens")
        for yi, v, e in zip(y, values, entries):
            ratio = e["ratio_to_subject"]["median"]
            ax.text(v, yi, f"  {v:.3g} ms, {ratio:.2f}×", va="center", fontsize=8)
        ax.set_xlim(right=max(values) * 6)
    fig.suptitle(textwrap.fill(setup_line(results), 90 * len(cells)), fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def write_reports(results: dict, out: str | Path) -> str:
    """bench.json, bench.md and bench.png in ``out``; returns the tables as plain text for the terminal."""
    out = Path(out)
    make_dirs(out)
    write_json_atomic(out / "bench.json", results)

    def tables(markdown: bool) -> str:
        parts = [setup_line(results)]
        for cell in results["cells"]:
            parts += [("### " if markdown else "") + cell_title(cell), cell_table(results, cell, markdown)]
            if cell.get("peaks"):
                parts += [f"this CPU's peaks at {cell['batch'] * cell['seq_len']} tokens (GOP/s above: the row's FLOPs "
                          "by Lemma 1 over its median time; its share of the peak of its precision)",
                          roofline_table(cell, markdown)]
        if len(results["setup"]["batch"]) > 1:
            parts += [("### " if markdown else "") + "throughput", throughput_table(results, markdown)]
        return "\n\n".join(parts)

    write_text_atomic(out / "bench.md", tables(markdown=True) + "\n")
    plot(results, out / "bench.png")
    return tables(markdown=False)
