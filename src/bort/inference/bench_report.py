"""Tables and a chart for ``bort bench`` results."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bort.util.io import save_figure, write_json_atomic, write_text_atomic
from bort.util.run_dir import make_dirs
from bort.util.table import format_table


def model_table(results: dict, markdown: bool = False) -> str:
    lengths = results["setup"]["lengths"]
    subject = results["subject"]
    headers = ["model (fp32 eager)", "⟨D,A,H,I⟩", "params M"]
    for n in lengths:
        headers += [f"ms @{n}", f"× {subject} @{n}"]
    rows = []
    for name, entry in results["models"].items():
        row = [name, ",".join(map(str, entry["arch"])), f"{entry['params_total'] / 1e6:.1f}"]
        for n in lengths:
            row += [f"{entry['latency'][str(n)]['median_ms']:.1f}", f"{entry['ratio_to_subject'][str(n)]:.2f}"]
        rows.append(row)
    return format_table(headers, rows, markdown)


def fast_path_table(results: dict, markdown: bool = False) -> str:
    lengths = results["setup"]["lengths"]
    headers = [f"{results['subject']} fast path"]
    for n in lengths:
        headers += [f"ms @{n}", f"speed-up @{n}", f"cosine @{n}"]
    rows = []
    for name, entry in results["fast_paths"].items():
        if "skipped" in entry:
            rows.append([name] + ["skipped"] * (3 * len(lengths)))
            continue
        row = [name]
        for n in lengths:
            e = entry[str(n)]
            row += [f"{e['median_ms']:.1f}", f"{e['speedup']:.2f}", f"{e['cosine']:.5f}"]
        rows.append(row)
    return format_table(headers, rows, markdown)


def onnx_file_table(results: dict, markdown: bool = False) -> str:
    lengths = results["setup"]["lengths"]
    headers = ["ONNX file"]
    for n in lengths:
        headers += [f"ms @{n}", f"speed-up vs eager {results['subject']} @{n}", f"cosine @{n}"]
    rows = [[name] + [v for n in lengths for v in (f"{e[str(n)]['median_ms']:.1f}", f"{e[str(n)]['speedup']:.2f}",
                                                   f"{e[str(n)]['cosine']:.5f}")]
            for name, e in results.get("onnx_files", {}).items()]
    return format_table(headers, rows, markdown)


def setup_line(results: dict) -> str:
    s = results["setup"]
    d = s["device"]
    return (f"{d['device_name']}, {s['threads']} threads, batch {s['batch_size']}, median of ≥{s['repeats']} runs "
            f"after {s['warmup_runs']} warm-up; torch {d['torch']}, transformers {d['transformers']}, "
            f"onnxruntime {d['onnxruntime']}")


def plot(results: dict, path: str | Path) -> Path:
    """Horizontal bars of median latency (log scale), one panel per sequence length; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = results["setup"]["lengths"]
    subject = results["subject"]
    labels, colors = [], []
    for name in results["models"]:
        labels.append(f"{name} (fp32)")
        colors.append("#1f77b4" if name != subject else "#2ca02c")
    fast = {k: v for k, v in results["fast_paths"].items() if "skipped" not in v}
    for name in fast:
        labels.append(f"{subject} {name}")
        colors.append("#ff7f0e")

    fig, axes = plt.subplots(1, len(lengths), figsize=(5.5 * len(lengths), 0.45 * len(labels) + 1.8), squeeze=False)
    for ax, n in zip(axes[0], lengths):
        values = [e["latency"][str(n)]["median_ms"] for e in results["models"].values()]
        values += [e[str(n)]["median_ms"] for e in fast.values()]
        y = range(len(values))
        ax.barh(list(y), values, color=colors)
        ax.set_xscale("log")
        ax.set_yticks(list(y), labels)
        ax.invert_yaxis()
        ax.set_xlabel("median latency, ms (log scale)")
        ax.set_title(f"{n} tokens, batch {results['setup']['batch_size']}")
        for yi, v in zip(y, values):
            ax.text(v, yi, f" {v:.0f} ms" if v >= 10 else f" {v:.1f} ms", va="center", fontsize=8)
        ax.set_xlim(right=max(values) * 4)
    fig.suptitle(textwrap.fill(setup_line(results), 90 * len(lengths)), fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def write_reports(results: dict, out: str | Path) -> str:
    """bench.json, bench.md and bench.png in ``out``; returns the tables as plain text for the terminal."""
    out = Path(out)
    make_dirs(out)
    write_json_atomic(out / "bench.json", results)
    tables = [setup_line(results), model_table(results, markdown=True), fast_path_table(results, markdown=True)]
    if results["onnx_files"]:
        tables.append(onnx_file_table(results, markdown=True))
    write_text_atomic(out / "bench.md", "\n\n".join(tables) + "\n")
    plot(results, out / "bench.png")
    text = [setup_line(results), model_table(results)]
    if results["fast_paths"]:
        text.append(fast_path_table(results))
    if results["onnx_files"]:
        text.append(onnx_file_table(results))
    return "\n\n".join(text)
