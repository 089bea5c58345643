"""The pipeline's ``pipeline.png``: the trade the user is buying, score against time per sequence."""

from __future__ import annotations

from pathlib import Path

from bort.util.io import save_figure


def _axes(figsize):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def plot_trade(path: Path, task: dict, timing: dict) -> Path:
    """The first task's held-out score against milliseconds per sequence: the teacher eager and served (with
    ``export: {serve_teacher: true}``), the student eager and served (with an export), one point each. ``timing``:
    :func:`bort.pipeline.report.timings`."""
    fig, ax = _axes((7, 4.5))
    points = [("teacher, eager", timing["teacher_ms"], task["teacher"], "#777777"),
              *([(f"teacher, served ({timing['teacher_served_path']})", timing["teacher_served_ms"], task["teacher"],
                  "#2ca02c")] if timing.get("teacher_served_ms") else []),
              ("student, eager", timing["student_ms"], task["student"], "#1f77b4")]
    if timing["served_ms"] is not None:
        points.append((f"student, served ({timing['served_path']})", timing["served_ms"], task["student"], "#d62728"))
    for label, ms, score, colour in points:
        if score is None:
            continue
        ax.scatter([ms], [score], s=90, color=colour, label=f"{label}: {ms:.2f} ms, {score:.3f}", zorder=3)
    if task["majority"] is not None:
        ax.axhline(task["majority"], color="black", linestyle="--", linewidth=1, label="majority class")
    ax.set_xscale("log")
    times = sorted(ms for _, ms, score, _ in points if score is not None)
    ax.set_xticks(times, [f"{ms:.3g}" for ms in times])  # the points' own times, not powers of ten
    ax.minorticks_off()
    ax.set_xlim(times[0] / 1.5, times[-1] * 1.5)
    ax.set_xlabel(f"milliseconds per sequence ({timing['shape']}, {timing['cpu'] or 'this CPU'}; log scale)")
    ax.set_ylabel(f"{task['name']}: {task['metric']} ({task['on']})")
    ax.set_title("what the student trades: score against time, on the same examples", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_sizes(path: Path, tasks: list[dict], teacher_params: int, student_params: int | None) -> Path | None:
    """Size, and each task's score, of the student beside the teacher."""
    if not student_params and not tasks:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    if student_params:
        axes[0].bar(["teacher", "student"], [teacher_params / 1e6, student_params / 1e6],
                    color=["#999999", "#1f77b4"])
        axes[0].set_ylabel("parameters (millions)")
        axes[0].set_title("size")
    else:
        axes[0].axis("off")
    if tasks:
        x = range(len(tasks))
        axes[1].bar([i - 0.2 for i in x], [t["teacher"] or 0 for t in tasks], width=0.4, label="teacher",
                    color="#999999")
        axes[1].bar([i + 0.2 for i in x], [t["student"] for t in tasks], width=0.4, label="student", color="#1f77b4")
        for i, t in zip(x, tasks):
            if t["majority"] is not None:
                axes[1].hlines(t["majority"], i - 0.4, i + 0.4, colors="black", linestyles="dashed")
        axes[1].set_xticks(list(x), [f"{t['name']}\n{t['metric']}" for t in tasks])
        axes[1].set_title("tasks (dashed: majority class)")
        axes[1].legend()
    else:
        axes[1].axis("off")
    fig.tight_layout()
    return save_figure(fig, path)
