"""What the user reads after a search: ranking.csv, pareto.png, best/config.json, report.md."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from bort.architecture import Arch
from bort.architecture.hf_config import student_config
from bort.errors import BortError
from bort.search.budget import OUT, STRADDLES, budget_sort_key
from bort.search.scoring import pareto_front
from bort.util.io import save_figure, write_json_atomic, write_text_atomic
from bort.util.table import format_table

COLUMNS = ["rank", "D", "A", "H", "I", "params", "latency", "latency_low", "latency_high", "latency_ties", "error", "W",
           "pareto", "budget"]


def diverged(record: dict) -> bool:
    """ê not finite: the candidate's training diverged, and it has no W."""
    return record["W"] is None or not math.isfinite(record["error"])


def rank(records: list[dict], budget: dict | None = None) -> list[dict]:
    """Candidates sorted by W (ties by parameter count, then the tuple), with the Pareto flag; diverged
    candidates last, off the front (a NaN would compare false and could sort anywhere). With a ``budget`` (its
    verdicts by "D,A,H,I", as search_summary.json records them): the candidates that fit it first, by ê (the most
    accurate first), each row's ``budget`` its verdict; then those left out, by W."""
    scored = [r for r in records if not diverged(r)]
    flags = pareto_front([(r["p"], r["latency"], r["error"]) for r in scored])
    rows = sorted(({**r, "pareto": f} for r, f in zip(scored, flags)), key=lambda r: (-r["W"], r["p"], r["arch"]))
    if budget:
        verdicts = budget["verdicts"]
        for row in rows:
            row["budget"] = verdicts.get(",".join(map(str, row["arch"])), {}).get("verdict", OUT)
        rows = sorted((r for r in rows if r["budget"] != OUT), key=budget_sort_key) + \
            [r for r in rows if r["budget"] == OUT]
    rows += sorted(({**r, "W": None, "pareto": False} for r in records if diverged(r)),
                   key=lambda r: (r["p"], r["arch"]))
    return flag_latency_ties(rows)


def overlap(x: list[float] | None, y: list[float] | None) -> bool:
    """Two [low, high] intervals share a point; a missing interval (FLOPs, an older log) overlaps nothing."""
    return x is not None and y is not None and x[0] <= y[1] and y[0] <= x[1]


def latencies_tie(a: dict, b: dict) -> bool:
    """Two candidates' î are statistically indistinguishable: their 95% intervals overlap."""
    return overlap(a.get("latency_interval"), b.get("latency_interval"))


def flag_latency_ties(rows: list[dict]) -> list[dict]:
    """``latency_ties``: the ranks (1-based, in ``rows``' order) of the other candidates whose î is
    indistinguishable from this one's (:func:`latencies_tie`); their order by î is noise."""
    for i, row in enumerate(rows):
        row["latency_ties"] = [j + 1 for j, other in enumerate(rows) if j != i and latencies_tie(row, other)]
    return rows


def tied_with_best(records: list[dict]) -> list[str]:
    """The candidates (as "D,A,H,I") whose W interval, from their î interval, overlaps the best one's: with î
    measured again they could rank first."""
    rows = [r for r in rank(records) if r["W"] is not None]
    if not rows:
        return []
    return [",".join(map(str, r["arch"])) for r in rows[1:] if overlap(rows[0].get("W_interval"), r.get("W_interval"))]


def tied_pairs(records: list[dict]) -> list[list[str]]:
    """Every pair of candidates (as "D,A,H,I") whose î are indistinguishable, for search_summary.json."""
    names = [",".join(map(str, r["arch"])) for r in records]
    return [[names[i], names[j]] for i in range(len(records)) for j in range(i + 1, len(records))
            if latencies_tie(records[i], records[j])]


def ranking_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for n, r in enumerate(rows, 1):
        w = "" if r["W"] is None else repr(r["W"])  # empty for a diverged candidate
        low, high = r.get("latency_interval") or ("", "")
        writer.writerow([n, *r["arch"], r["p"], repr(r["latency"]), low, high, " ".join(map(str, r["latency_ties"])),
                         repr(r["error"]), w, int(r["pareto"]), r.get("budget", "")])
    return buffer.getvalue()


def plot_pareto(rows: list[dict], path: Path, latency_unit: str, p_teacher: float, latency_teacher: float,
                budget: dict | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    p = [r["p"] / 1e6 for r in rows]
    latency = [r["latency"] for r in rows]
    error = [r["error"] for r in rows]
    points = ax.scatter(p, latency, c=error, cmap="viridis_r", s=36, edgecolors="none")
    fig.colorbar(points, ax=ax, label="surrogate error ê (lower is better)")
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["p"])
    ax.scatter([r["p"] / 1e6 for r in front], [r["latency"] for r in front], s=90, facecolors="none",
               edgecolors="crimson", label="Pareto front over (p, î, ê)")
    best = rows[0]
    name = f"⟨{','.join(map(str, best['arch']))}⟩"
    label = f"best W: {name}, W={best['W']:.3g}"
    if budget:  # what the budget left out, its edges, and the pick within it
        out = [r for r in rows if r.get("budget") == OUT]
        ax.scatter([r["p"] / 1e6 for r in out], [r["latency"] for r in out], marker="x", s=60, color="grey",
                   label="outside the budget", zorder=4)
        edges = [(budget["max_latency"], "max latency"),
                 (latency_teacher / budget["min_speedup"] if budget["min_speedup"] else None, "min speed-up")]
        for value, what in edges:
            if value is not None:
                ax.axhline(value, color="crimson", linestyle="--", linewidth=1, label=f"budget: {what}")
        if budget["max_params"]:
            ax.axvline(budget["max_params"] / 1e6, color="crimson", linestyle=":", linewidth=1,
                       label="budget: max parameters")
        label = f"the pick within the budget (lowest ê): {name}, ê={best['error']:.3g}"
    ax.scatter([best["p"] / 1e6], [best["latency"]], marker="*", s=300, color="gold", edgecolors="black",
               label=label, zorder=5)
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel(f"latency î ({latency_unit})")
    ax.set_title(f"FPTAS candidates; teacher T: {p_teacher / 1e6:.1f}M parameters, "
                 f"î(T) = {latency_teacher:.4g} {latency_unit}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def write_reports(cfg, out: Path, finished: dict[str, dict], teacher_config, summary: dict) -> dict:
    """Write every report file from the finished candidates; returns the best candidate."""
    budget = summary.get("budget")
    rows = rank(list(finished.values()), budget)
    write_text_atomic(out / "ranking.csv", ranking_csv(rows))
    scored = [r for r in rows if r["W"] is not None]
    if not scored:
        raise BortError(f"every candidate diverged (ê not finite; see {out / 'ranking.csv'}): lower --lr or --clip")
    if budget and scored[0].get("budget") == OUT:
        raise BortError(f"every candidate within the budget ({budget['description']}) diverged (ê not finite; see "
                        f"{out / 'ranking.csv'}): lower --lr or --clip")
    plot_pareto(scored, out / "pareto.png", summary["latency_unit"], summary["p_T"], summary["latency_T"], budget)
    best = scored[0]
    config = student_config(teacher_config, Arch(*best["arch"]))
    config.architectures = [teacher_config.architectures[0]] if teacher_config.architectures else None
    (out / "best").mkdir(exist_ok=True)
    write_json_atomic(out / "best" / "config.json", config.to_dict())
    write_text_atomic(out / "report.md", _report(cfg, scored, [r for r in rows if r["W"] is None], summary))
    return {k: best[k] for k in ("arch", "p", "latency", "error", "W", *(("budget",) if budget else ()))}


def _budget_lines(budget: dict, n_fit: int) -> list[str]:
    """The budget's heading, and what it left out and why (the untrained among them too)."""
    left_out = [(name, v["why"]) for name, v in budget["verdicts"].items() if v["verdict"] == OUT]
    lines = [f"## Within the budget ({budget['description']}): {n_fit} candidates, ranked by ê (the most accurate "
             "first)", "",
             "A latency is judged on its 95% interval: a candidate whose interval holds the budget's edge is kept "
             "and flagged (it may meet it, or not, when timed again); W still orders the candidates without a budget."]
    if left_out:
        lines += ["", f"Left out by the budget ({len(left_out)}, not trained unless an earlier run had): "
                  + "; ".join(f"⟨{name}⟩ {why}" for name, why in left_out[:12]) + (" …" if len(left_out) > 12 else "")
                  + "."]
    return lines


def _report(cfg, rows: list[dict], failed: list[dict], summary: dict) -> str:
    unit = summary["latency_unit"]
    def interval(r: dict) -> str:
        return f"[{r['latency_interval'][0]:.4g}, {r['latency_interval'][1]:.4g}]" if r.get("latency_interval") else ""

    budget = summary.get("budget")
    shown = [r for r in rows if r.get("budget") != OUT] if budget else rows
    top = [[n, "⟨" + ",".join(map(str, r["arch"])) + "⟩", f"{r['p'] / 1e6:.2f}", f"{r['latency']:.4g}", interval(r),
            ", ".join(map(str, r["latency_ties"][:6])) + (" …" if len(r["latency_ties"]) > 6 else ""),
            f"{r['error']:.4f}", f"{r['W']:.4g}", "yes" if r["pareto"] else "",
            *((("straddles its edge" if r["budget"] == STRADDLES else "fits"),) if budget else ())]
           for n, r in enumerate(shown[:10], 1)]
    pairs = sum(len(r["latency_ties"]) for r in rows) // 2
    measured = sum(1 for r in rows if r.get("latency_interval"))
    tied = [] if budget else tied_with_best(rows)  # W's ties; within a budget the pick is the lowest ê
    device = summary.get("device") or {}
    lines = [
        "# FPTAS search report",
        "",
        f"Teacher T: `{cfg.teacher}` — {summary['p_T'] / 1e6:.2f}M parameters, "
        f"î(T) = {summary['latency_T']:.4g} {unit}." + (
            f" ê is on the task {cfg.task}: each candidate cut out of this fine-tuned teacher (Taylor importance on "
            "the task's loss), s steps of task distillation, then its loss against the teacher's outputs on held-out "
            "dev inputs." if getattr(cfg, "task", None) else ""),
        f"Space `{cfg.space}`: {summary['candidates_in_space']} valid architectures, {summary['candidates_kept']} kept "
        f"(ε = {cfg.epsilon}); s = {cfg.steps} SGD steps (lr {cfg.lr}, batch {cfg.batch_size}, clip {cfg.clip}), "
        f"sequence length {cfg.seq_len}, τ = {cfg.temperature}.",
        f"Latency: {'measured' if cfg.latency == 'measured' else 'FLOPs (Lemma 1)'}, batch {cfg.latency_batch}, "
        f"{cfg.latency_seq_len} tokens" + (f", on {device.get('device_name')} with {device.get('threads')} threads, "
                                            f"torch {device.get('torch')}" if device else "") + ".",
        "",
        *(_budget_lines(budget, len(shown)) if budget else ["## Top candidates by W = (1 − p/p(T))·(1 − î/î(T))/ê"]),
        "",
        format_table(["rank", "⟨D,A,H,I⟩", "params M", f"î ({unit})", "î 95% interval", "î indistinguishable from rank",
                      "ê", "W", "Pareto", *(("budget",) if budget else ())], top, markdown=True),
        "",
        *([f"î is T's latency times each candidate's median per-round ratio to T, from "
           f"{summary.get('latency_rounds')} interleaved rounds; {pairs} of the "
           f"{measured * (measured - 1) // 2} pairs of candidates have overlapping 95% intervals: their order by î "
           "is within the noise of this machine (the column 'î indistinguishable from rank' names them).", ""]
          if measured else []),
        *([f"Tied with the best within î's noise (W intervals overlap): "
           f"{', '.join('⟨' + t + '⟩' for t in tied)}.", ""] if tied else []),
        f"{'The pick (the lowest ê within the budget)' if budget else 'Best'}: "
        f"⟨{','.join(map(str, rows[0]['arch']))}⟩ — its Hugging Face config is `best/config.json`; "
        + (f"cut it out of the task's teacher and distil it there with `bort extract --teacher {cfg.teacher} --task "
           f"{cfg.task} --arch {','.join(map(str, rows[0]['arch']))} --importance taylor ...`, then `bort finetune "
           f"--teacher {cfg.teacher} ...`." if getattr(cfg, "task", None) else
           f"pre-train it with `bort pretrain --mode kd --teacher {cfg.teacher} "
           f"--config {Path(cfg.out) / 'best' / 'config.json'} ...`."),
        "",
        *([f"Diverged (ê not finite, no W, not ranked): "
           f"{', '.join('⟨' + ','.join(map(str, r['arch'])) + '⟩' for r in failed)}.", ""] if failed else []),
        "## Cost of this search",
        "",
        f"- latency measurements: {summary['latency_seconds']:.1f} s",
        f"- the teacher over the fixed batches (once): {summary['teacher_seconds']:.1f} s",
        f"- candidate training and scoring ({summary['trained_this_run']} this run, {cfg.workers} worker(s)"
        f"{', Ray ' + cfg.ray if cfg.ray else ''}): {summary['training_seconds']:.1f} s",
        f"- total: {summary['total_seconds']:.1f} s",
        "",
    ]
    return "\n".join(lines)
