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
    return "\n".join(lines + diagnostics(result, iterations))


def _shares(shares: dict | None) -> str:
    return " / ".join(f"{label} {share:.2f}" for label, share in shares.items()) if shares else "–"


def _counts(counts: dict | None) -> str:
    return " / ".join(f"{label} {n}" for label, n in counts.items()) if counts else "–"


def _num(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def diagnostics(result: dict, iterations: list[dict]) -> list[str]:
    """Why the run went where it did: φ's label noise, and per iteration the winner's E and H scores, its
    predicted-label shares (a collapse shows there), the new points' labels and distances from their source."""
    lines = ["## Diagnostics", ""]
    check = result.get("phi_check")
    if check and check.get("examples"):
        lines += [f"- φ check on {check['examples']} training examples (gold labels known): Socrates gives the gold "
                  f"label to {check['socrates_on_sources']:.3f} of the sources and "
                  f"{check['socrates_on_perturbed']:.3f} "
                  f"of their perturbations; φ changed Socrates' label on {check['label_changed_by_phi']:.3f}; mean "
                  f"token edit distance {check['edit_distance_mean']:.2f}.", ""]
    lines += ["H scores are measured for this report only; nothing selects on them. A training has collapsed when "
              "it gives one label to at least 95% of E.", "",
              "| iteration | winner E | winner H | winner's E predictions | collapsed trainings | mistakes by label "
              "| new points by Socrates label | Socrates keeps the source's gold label | mean confidence | edit "
              "distance mean / median | points kept | D by label |",
              "|---:|---:|---|---|---:|---|---|---:|---:|---|---:|---|"]
    for it in iterations:
        diag = it.get("diagnostics")
        if not diag:
            continue
        made, kept = diag["made"], diag["kept"]
        held = ", ".join(f"{k} {v:.4f}" for k, v in diag["winner_held_out"].items())
        lines.append(
            f"| {it['iteration']} | {it['winner_score']:.4f} | {held} | {_shares(diag['winner_prediction_shares'])} | "
            f"{len(diag['collapsed'])} of {len(it['ranked'])} | {_counts(diag.get('mistake_labels'))} | "
            f"{_counts(made.get('labels'))} | {_num(made.get('socrates_keeps_source_label'))} | "
            f"{_num(made.get('mean_confidence'))} | {_num(made.get('edit_distance_mean'), 2)} / "
            f"{_num(made.get('edit_distance_median'), 1)} | {kept['points']} of {made['points']} | "
            f"{_counts(diag.get('d_labels'))} |")
    pairs = next((it["diagnostics"]["pairs"] for it in iterations if it.get("diagnostics", {}).get("pairs")), [])
    if pairs:
        lines += ["", "Ten of iteration "
                  f"{next(it['iteration'] for it in iterations if it.get('diagnostics', {}).get('pairs'))}'s"
                  " new points beside their source (Socrates' label; the source's gold label):", ""]
        lines += [f"- `{p['source']}` → `{p['new']}` (Socrates {p['label']}; gold {p['source_label']})" for p in pairs]
    return lines + [""]


def write_outputs(out: Path, result: dict, iterations: list[dict], by_name: dict[str, dict]) -> None:
    write_text_atomic(out / "theta_trace.csv", theta_trace(iterations, by_name))
    plot(iterations, out / "agora.png", result["e_metric"])
    write_text_atomic(out / "report.md", report(result, iterations))
