"""Does the search rank what the user will get? ê from random weights (the paper's) against ê from extracted
weights (`bort search --init extract`), and how well each predicts the fine-tuned score of its top candidates.

Both searches score the same space against the same teacher on the same fixed batches; î is Lemma 1's
FLOPs in both, so that the rankings differ through ê alone. Printed: Kendall's τ between the two W
rankings (and between the two ê orders), then, for the top --top candidates of each ranking, each
fine-tuned on SST-2 from the start its ranking assumed (extracted weights, or random weights) with the
same recipe, and Spearman's ρ between −ê and the dev score (ρ > 0: a lower ê means a better fine-tuned
model).

    python bench/search_init.py --teacher runs/extract-bench/teacher [--space minilm] [--steps 10]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from pathlib import Path

import torch
from scipy.stats import kendalltau, spearmanr

from bort.architecture import Arch
from bort.architecture.hf_config import student_config
from bort.checkpoint import load_config, save_model_dir
from bort.data import CORPUS_DIR
from bort.extract.config import ExtractConfig
from bort.extract.extractor import extract
from bort.finetune.config import FinetuneConfig
from bort.finetune.plain import finetune
from bort.measure.device import device_record
from bort.search.config import SearchConfig
from bort.search.runner import search
from bort.tokenizer import tokenizer_for_model
from bort.util.io import append_log, read_log
from bort.util.quiet import quiet_libraries

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "glue"
TASKS = {"SST-2": "accuracy"}


def ranking(out: Path) -> list[dict]:
    with open(out / "ranking.csv") as f:
        return list(csv.DictReader(f))


def start_dir(init: str, arch: Arch, teacher: Path, root: Path) -> Path:
    """The model a user would fine-tune under this ranking's assumption: extracted, or random weights."""
    target = root / init / "-".join(map(str, arch.as_list()))
    if (target / "config.json").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    if init == "extract":
        extract(ExtractConfig(teacher=str(teacher), arch=arch.as_list(), corpus=[str(CORPUS_DIR)], out=str(target),
                              seq_len=128, cache_dir=str(root / "cache")), show_progress=False)
    else:
        from transformers import AutoModelForMaskedLM

        torch.manual_seed(0)
        save_model_dir(AutoModelForMaskedLM.from_config(student_config(load_config(teacher), arch)),
                       tokenizer_for_model(teacher), target)
    return target


def plot(points: dict, path: Path) -> None:
    """ê against each task's dev score, one panel per task, one colour per ranking."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bort.util.io import save_figure

    fig, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 3.8), squeeze=False)
    for ax, (task, metric) in zip(axes[0], TASKS.items()):
        for init, (errors, scores) in points.items():
            ax.scatter(errors, [100 * v for v in scores[task]],
                       label="ê from extracted weights" if init == "extract" else "ê from random weights")
        ax.set(xlabel="ê (held-out cross-entropy with the teacher)", ylabel=f"{task} dev {metric}",
               title=f"does ê predict {task}?")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--lr", type=float, default=3e-4, help="fine-tuning learning rate, for every start")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "search-init")
    args = parser.parse_args()
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = Path(args.teacher)
    rankings = {}
    for init in ("random", "extract"):
        out = args.out / f"search-{init}"
        if not (out / "ranking.csv").is_file():
            shutil.rmtree(out, ignore_errors=True)
            search(SearchConfig(teacher=str(teacher), corpus=[str(CORPUS_DIR)], out=str(out), space=args.space,
                                init=init, steps=args.steps, lr=0.05 if init == "random" else 0.01, batch_size=8,
                                seq_len=128, val_batches=4, latency="flops", seed=0,
                                cache_dir=str(args.out / "cache")), show_progress=False)
        rankings[init] = ranking(out)
    key = lambda r: (r["D"], r["A"], r["H"], r["I"])  # noqa: E731
    w = {init: {key(r): float(r["W"]) for r in rows} for init, rows in rankings.items()}
    e = {init: {key(r): float(r["error"]) for r in rows} for init, rows in rankings.items()}
    shared = sorted(w["random"])
    tau_w = kendalltau([w["random"][k] for k in shared], [w["extract"][k] for k in shared]).statistic
    tau_e = kendalltau([e["random"][k] for k in shared], [e["extract"][k] for k in shared]).statistic

    log = args.out / "finetuned.jsonl"
    done = {(r["init"], tuple(r["arch"]), r["task"]): r for r in read_log(log)}
    lines = [f"Space {args.space} ({len(shared)} candidates), s = {args.steps}, î = FLOPs. Kendall τ of the two W "
             f"rankings {tau_w:.3f}, of the two ê orders {tau_e:.3f}.", "",
             "| ranking | top candidates (by W) | ê | " + " | ".join(f"{t} ({m})" for t, m in TASKS.items())
             + " | Spearman ρ(−ê, score) " + " / ".join(TASKS) + " |", "|---|---|---|" + "---:|" * len(TASKS) + "---|"]
    points = {}
    for init, rows in rankings.items():
        top = [r for r in rows if r["W"]][:args.top]
        scores = {t: [] for t in TASKS}
        for r in top:
            arch = Arch(*(int(r[k]) for k in ("D", "A", "H", "I")))
            for task, metric in TASKS.items():
                mark = (init, tuple(arch.as_list()), task)
                if mark not in done:
                    model = start_dir(init, arch, teacher, args.out / "starts")
                    run = args.out / "ft"
                    shutil.rmtree(run, ignore_errors=True)
                    result = finetune(FinetuneConfig(model=str(model), task=f"glue/{task}", data=str(DATA / task),
                                                     out=str(run), epochs=3, batch_size=32, lr=args.lr,
                                                     max_len=64, patience=3,
                                                     max_train_examples=args.train, seed=0), show_progress=False)
                    done[mark] = {"init": init, "arch": arch.as_list(), "task": task, "score": result["dev"][metric]}
                    append_log(log, done[mark])
                scores[task].append(done[mark]["score"])
        errors = [float(r["error"]) for r in top]
        points[init] = (errors, scores)
        rho = [spearmanr([-x for x in errors], scores[t]).statistic for t in TASKS]
        for i, r in enumerate(top):
            cells = " | ".join(f"{100 * scores[t][i]:.1f}" for t in TASKS)
            lines.append(f"| {init if i == 0 else ''} | ⟨{r['D']},{r['A']},{r['H']},{r['I']}⟩ | "
                         f"{errors[i]:.3f} | {cells} | "
                         + (" / ".join(f"{x:.2f}" for x in rho) if i == 0 else "") + " |")
    plot(points, args.out / "e_vs_score.png")
    lines.append(f"\nPlot: {args.out / 'e_vs_score.png'}. "
                 f"Fine-tuning: {args.train} examples, 3 epochs, 64 tokens, lr {args.lr:g}; "
                 f"this invocation {(time.perf_counter() - started) / 60:.0f} min (finished pieces are reused) on "
                 f"{device_record('cpu').describe()}.")
    text = "\n".join(lines)
    (args.out / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
