"""curves.png: validation MLM accuracy against steps and against wall-clock (the paper's Figure 1)."""

from __future__ import annotations

from pathlib import Path

from bort.util.io import read_log, save_figure


def read_metrics(run_dir: Path) -> list[dict]:
    return read_log(Path(run_dir) / "metrics.jsonl")


def plot_curves(runs: dict[str, Path], path: Path, baseline: float | None = None) -> Path | None:
    """One line per run (label → run directory), two panels; written atomically. None if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for label, run_dir in runs.items():
        points = [r for r in read_metrics(run_dir) if "val_mlm_accuracy" in r]
        if points:
            series[label] = points
    if not series:
        return None
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for label, points in series.items():
        by_step.plot([p["step"] for p in points], [p["val_mlm_accuracy"] for p in points], marker="o", ms=3,
                     label=label)
        by_time.plot([p["wall_s"] / 60 for p in points], [p["val_mlm_accuracy"] for p in points], marker="o", ms=3,
                     label=label)
    for ax, xlabel in ((by_step, "optimizer steps"), (by_time, "wall-clock, minutes")):
        if baseline is not None:
            ax.axhline(baseline, color="grey", ls="--", lw=1, label="most frequent token")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out MLM accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
