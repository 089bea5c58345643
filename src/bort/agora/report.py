"""What a user reads after Agora: theta_trace.csv, agora.png and report.md (metrics.json is the loop's)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bort.agora.theta import FIELDS
from bort.util.io import save_figure, write_text_atomic


def theta_trace(iterations: list[dict], by_name: dict[str, dict]) -> str:
    """One row per (iteration, θ): its rank and E score, and whether the pruning dropped it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["iteration", "rank", *FIELDS, "e_score", "dropped"])
    for it in iterations:
        dropped = set(it["dropped"])
        for rank, (theta, e_score) in enumerate(it["ranked"], 1):
            writer.writerow([it["iteration"], rank, *(by_name[theta][f] for f in FIELDS), repr(e_score),
                             int(theta in dropped)])
    return buffer.getvalue()


def plot(iterations: list[dict], path: Path, metric: str) -> Path:
    """Three panels by iteration: the best E score so far (and the iteration's own), |Θt|, and |D|."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [it["iteration"] for it in iterations]
    fig, (scores, thetas, sizes) = plt.subplots(1, 3, figsize=(13, 3.6))
    scores.plot(ks, [it["best"]["score"] for it in iterations], marker="o", label="best so far")
    scores.plot(ks, [it["winner_score"] for it in iterations], marker=".", ls=":", label="this iteration's best")
    scores.set_ylabel(f"E {metric}")
    scores.legend()
    thetas.step(ks, [len(it["ranked"]) for it in iterations], where="mid", marker="o")
    thetas.set_ylabel("|Θt| trained")
    sizes.plot(ks, [it["d_size"] for it in iterations], marker="o")
    sizes.set_ylabel("|D| after the iteration")
    for ax in (scores, thetas, sizes):
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def report(result: dict, iterations: list[dict]) -> str:
    chs = result["chs"]
    held = ", ".join(f"{k} {v:.4f}" for k, v in result["held_out_metrics"].items())
    base = ", ".join(f"{k} {v:.4f}" for k, v in result["held_out_majority_baseline"].items())
    socrates = ", ".join(f"{k} {v:.4f}" for k, v in result["socrates"]["held_out_metrics"].items())
    lines = [
        f"# Agora on {result['task']}", "",
        f"- Convergent hyperparameter set (CHS): lr {chs['lr']:g}, weight decay {chs['weight_decay']:g}, warm-up "
        f"{chs['warmup_ratio']:g}, seed {chs['seed']} (iteration {result['best_iteration']}, E "
        f"{result['e_metric']} {result['e_score']:.4f})",
        f"- Held-out (H) score of the best model: {held}; majority class: {base}",
        f"- Plain fine-tuning, the same Θ selected on E (iteration 1's best, {result['plain_grid']['theta']}): H "
        + ", ".join(f"{k} {v:.4f}" for k, v in result["plain_grid"]["held_out_metrics"].items())
        + f" ({result['plain_grid']['trainings']} trainings, {result['plain_grid']['training_seconds'] / 60:.1f} min)",
        f"- Socrates ({result['socrates']['model']}): agreement with E's labels "
        f"{result['socrates']['e_agreement']:.4f}; on H: {socrates}",
        f"- Selected on {result['selected_on']}; scored on {result['held_out']}",
        f"- Cost: {result['iterations']} iterations, {result['trainings']} trainings, "
        f"{result['training_seconds'] / 60:.1f} min of training, {result['seconds'] / 60:.1f} min in all; "
        f"{result['augmented_examples']} points added to {result['train_examples']} training examples", "",
        "| iteration | sets trained | best E (iteration) | best E so far | mistakes | new points | dropped | |D| |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for it in iterations:
        lines.append(f"| {it['iteration']} | {len(it['ranked'])} | {it['winner_score']:.4f} | {it['best']['score']:.4f}"
                     f" | {it['mistakes']} | {it['added']} | {len(it['dropped']) or 'replay'} | {it['d_size']} |")
    lines += ["", "![Agora by iteration](agora.png)", ""]
    return "\n".join(lines)


def write_outputs(out: Path, result: dict, iterations: list[dict], by_name: dict[str, dict]) -> None:
    write_text_atomic(out / "theta_trace.csv", theta_trace(iterations, by_name))
    plot(iterations, out / "agora.png", result["e_metric"])
    write_text_atomic(out / "report.md", report(result, iterations))
