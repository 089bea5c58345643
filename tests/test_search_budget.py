"""The user's budget in `bort search`: which candidates fit (judged on î's interval), which are trained, how they
rank (by ê within the budget), and a re-run with another budget that trains only the newcomers."""

import csv
import json
import math
import re
import os
import subprocess
import sys

import pytest

from bort.architecture import Arch, count_params
from bort.architecture.hf_config import vocab_of
from bort.checkpoint import load_config
from bort.search.budget import IN, OUT, STRADDLES, Budget
from bort.search.config import SearchConfig
from bort.search.runner import search

SPACE = {"depths": [1, 2], "heads": [2], "hiddens": [16, 32], "intermediates": [16, 32]}  # 8 tuples


def record(latency, low=None, high=None, p=1000):
    return {"p": p, "latency": latency, "latency_interval": None if low is None else [low, high]}


@pytest.mark.parametrize("budget, candidate, verdict", [
    (Budget(max_latency=5.0), record(4.0, 3.5, 4.5), IN),
    (Budget(max_latency=5.0), record(4.8, 4.6, 5.2), STRADDLES),  # the interval holds the budget's edge
    (Budget(max_latency=5.0), record(5.5, 5.1, 6.0), OUT),  # the whole interval above it
    (Budget(max_latency=5.0), record(5.0), IN),  # FLOPs or an older log: no interval, the value itself
    (Budget(min_speedup=4.0), record(2.0, 1.9, 2.4), STRADDLES),  # T = 9: speed-up [3.75, 4.74]
    (Budget(min_speedup=4.0), record(2.0, 1.9, 2.2), IN),  # speed-up [4.09, 4.74]
    (Budget(min_speedup=4.0), record(2.5, 2.3, 2.6), OUT),  # speed-up [3.46, 3.91]
    (Budget(max_params=999), record(1.0), OUT),
    (Budget(max_params=1000), record(1.0), IN),
    (Budget(max_latency=5.0, min_speedup=4.0), record(2.5, 2.3, 2.6), OUT),  # one budget missed is enough
])
def test_a_candidate_is_judged_on_its_interval(budget, candidate, verdict):
    assert budget.verdict(candidate, latency_teacher=9.0)[0] == verdict


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shared_data, tiny_roberta_dir_module):
    root = tmp_path_factory.mktemp("budget")
    (root / "space.json").write_text(json.dumps(SPACE))
    return root, tiny_roberta_dir_module, str(shared_data / "text" / "gutenberg" / "120-0.txt")


@pytest.fixture(scope="module")
def tiny_roberta_dir_module(tmp_path_factory):
    from bort.architecture.build import build_roberta
    from bort.tokenizer import load_tokenizer

    path = tmp_path_factory.mktemp("teacher") / "tiny"
    build_roberta(Arch(2, 4, 32, 48), head="mlm", seed=0).save_pretrained(path)
    load_tokenizer().save_pretrained(path)
    return path


def config(workspace, out, **budget) -> SearchConfig:
    root, teacher, corpus = workspace
    return SearchConfig(teacher=str(teacher), corpus=[corpus], out=str(out), space=str(root / "space.json"), steps=2,
                        lr=0.05, batch_size=4, seq_len=32, val_batches=1, latency="flops", latency_seq_len=32,
                        cache_dir=str(root / "cache"), seed=0, threads_per_worker=1, **budget)


def speedups(out) -> dict[str, float]:
    """The teacher's FLOPs over each candidate's, from the search's own latency log."""
    logged = {r["key"]: r["value"] for r in map(json.loads, (out / "latency.jsonl").read_text().splitlines())}
    return {key: logged["T"] / value for key, value in logged.items() if key != "T"}


def trained(out) -> list[str]:
    lines = (out / "candidates.jsonl").read_text().splitlines()
    return [",".join(map(str, json.loads(line)["arch"])) for line in lines]


def test_a_budget_trains_what_fits_ranks_it_by_error_and_a_new_budget_trains_only_newcomers(workspace, tmp_path):
    out = tmp_path / "search"
    summary = search(config(workspace, out, min_speedup=2.0), show_progress=False)
    speed = speedups(out)
    fitting = {key for key, s in speed.items() if s >= 2.0}
    assert 0 < len(fitting) < len(speed)  # the budget splits this space
    assert sorted(trained(out)) == sorted(fitting)  # nothing outside the budget was trained
    rows = list(csv.DictReader(open(out / "ranking.csv")))
    assert all(r["budget"] == IN for r in rows)
    errors = [float(r["error"]) for r in rows]
    assert errors == sorted(errors)  # within the budget: the lowest ê first, whatever W says
    best = json.loads((out / "best" / "config.json").read_text())
    assert [best["num_hidden_layers"], best["num_attention_heads"], best["hidden_size"],
            best["intermediate_size"]] == [int(rows[0][k]) for k in "DAHI"]
    verdicts = summary["budget"]["verdicts"]
    assert {k for k, v in verdicts.items() if v["verdict"] == OUT} == set(speed) - fitting
    report = (out / "report.md").read_text()
    assert "Within the budget (≥ 2× faster than the teacher)" in report and "Left out by the budget" in report

    # Another budget re-ranks without training again what is scored; only the newly fitting candidates train.
    vocab = vocab_of(load_config(workspace[1]))
    limit = sorted(count_params(Arch(*map(int, k.split(","))), vocab).total for k in speed)[-2]
    before = (out / "candidates.jsonl").read_text()
    summary = search(config(workspace, out, max_params=limit), show_progress=False)
    newly = {k for k in speed if count_params(Arch(*map(int, k.split(","))), vocab).total <= limit} - fitting
    assert summary["trained_this_run"] == len(newly) > 0
    assert (out / "candidates.jsonl").read_text().startswith(before)  # the scored ones kept as they were
    rows = list(csv.DictReader(open(out / "ranking.csv")))
    inside = [r for r in rows if r["budget"] != OUT]
    assert [float(r["error"]) for r in inside] == sorted(float(r["error"]) for r in inside)
    assert all(int(r["params"]) <= limit for r in inside) and rows[:len(inside)] == inside
    assert (out / "pareto.png").stat().st_size > 0


@pytest.mark.parametrize("flags, message", [
    (["--max-latency", "nan"], "--max-latency must be a finite number"),
    (["--max-latency", "0", "--latency", "measured"], "--max-latency must be greater than 0"),
    (["--max-params", "-5"], "--max-params must be at least 1"),
    (["--min-speedup", "0.5"], "--min-speedup must be at least 1"),
    (["--max-latency", "5"], "--max-latency is in milliseconds"),  # with --latency flops
    (["--max-params", "1000"], "no candidate of the space fits; the smallest"),
    (["--min-speedup", "1000"],
     "no candidate fits the budget (≥ 1000× faster than the teacher): the fastest, ⟨1,2,16,16⟩"),
])
def test_a_bad_or_empty_budget_is_one_line_exit_2(flags, message, workspace, tmp_path):
    root, teacher, corpus = workspace
    out = tmp_path / "s"
    args = ["search", "--teacher", str(teacher), "--corpus", corpus, "--out", str(out), "--space",
            str(root / "space.json"), "--seq-len", "32", "--latency-seq-len", "32", "--latency", "flops",
            "--cache-dir", str(root / "cache"), *flags]
    result = subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr[-1500:]
    if "the fastest" not in message:  # refused before any work: nothing written
        assert not out.exists()
    else:  # refused once the latencies say so; they are kept for a looser budget
        assert (out / "latency.jsonl").is_file() and not (out / "candidates.jsonl").exists()
        assert not math.isnan(max(speedups(out).values()))


def test_the_budget_is_a_pipeline_search_option_and_a_quickstart_one(real_model_dir, tmp_path):
    from bort.config import command_line
    from bort.pipeline.config import parse_pipeline
    from bort.pipeline.stages import plan
    from bort.quickstart import QuickstartConfig, quickstart_pipeline

    raw = {"out": str(tmp_path / "run"), "teacher": str(real_model_dir), "corpus": [str(tmp_path)],
           "search": {"space": "minilm", "min_speedup": 4, "max_params": "20000000"}}
    search_stage = plan(parse_pipeline(raw, tmp_path / "p.yaml"))[0]
    assert (search_stage.config.min_speedup, search_stage.config.max_params) == (4.0, 20_000_000)
    assert "--min-speedup 4.0 --max-params 20000000" in command_line("search", search_stage.config)
    stages = plan(quickstart_pipeline(tmp_path / "q", real_model_dir, QuickstartConfig(min_speedup=3)))
    assert next(s for s in stages if s.name == "search").config.min_speedup == 3.0


# ---------------------------------------------------------------------------------------------- a surrogate on the task
PAIR = dict(text_column="question", text_pair_column="sentence")


@pytest.fixture(scope="module")
def task_teacher(tiny_roberta_dir_module, tmp_path_factory):
    """A tiny classifier for the shipped custom task (classes in the task's sorted order), as if fine-tuned."""
    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.tokenizer import load_tokenizer

    import torch

    path = tmp_path_factory.mktemp("task-teacher") / "cls"
    model = classifier_from_encoder(tiny_roberta_dir_module, 2, ("entailment", "not_entailment"))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a confident head, whose outputs differ from input to input (a fresh one says ½, ½)
        for layer, std in ((model.classifier.dense, 1.0), (model.classifier.out_proj, 4.0)):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * std)
    save_model_dir(model, load_tokenizer(), path)
    return path


def task_config(teacher, out, **extra) -> SearchConfig:
    from bort.data import CUSTOM_TASK_DIR

    space = out.parent / "task-space.json"
    space.write_text(json.dumps(SPACE))
    return SearchConfig(teacher=str(teacher), task="custom", train=str(CUSTOM_TASK_DIR / "train.csv"),
                        dev=str(CUSTOM_TASK_DIR / "dev.csv"), out=str(out), space=str(space), steps=2, lr=0.05,
                        clip=0.0, batch_size=4, seq_len=32, val_batches=2, latency="flops", latency_seq_len=32,
                        seed=0, max_params=extra.pop("max_params", None), **PAIR, **extra)


def test_the_task_surrogate_is_the_distillation_loss_after_s_steps_computed_by_hand(task_teacher, tmp_path):
    """Every candidate's ê, recomputed here: its weights cut out of the fine-tuned teacher by the saved task scores,
    s plain SGD steps (p ← p − lr·∇) on −Σ softmax(t/τ)·log softmax(s/τ), then that loss on the held-out batches."""
    import numpy as np
    import torch

    from bort.checkpoint import load_classifier
    from bort.extract.extractor import extract_model
    from bort.extract.importance import Importance
    from bort.search.candidate import candidate_seed

    out = tmp_path / "task-search"
    config_ = task_config(task_teacher, out)
    summary = search(config_, show_progress=False)
    cache = torch.load(out / "task_cache.pt", weights_only=True)
    importance = Importance.from_dict(json.loads((out / "task_importance.json").read_text()))
    teacher = load_classifier(task_teacher)
    assert len(cache["train"]) == 2 and len(cache["val"]) == 2 and cache["train"][0]["input_ids"].shape[0] == 4
    with torch.no_grad():  # the cached outputs are the teacher's own
        assert torch.allclose(teacher.eval()(**cache["val"][0]).logits, cache["val_logits"][0], atol=1e-5)
    for record in summary["candidates"][:3]:
        arch = Arch(*record["arch"])
        torch.manual_seed(candidate_seed(0, arch))
        student, _ = extract_model(teacher, importance, arch)
        student.train()
        for step in range(2):
            logits = student(**cache["train"][step]).logits
            target = torch.softmax(cache["train_logits"][step], -1)
            loss = -(target * torch.log_softmax(logits, -1)).sum(-1).mean()
            grads = torch.autograd.grad(loss, list(student.parameters()), allow_unused=True)
            with torch.no_grad():
                for p, g in zip(student.parameters(), grads):
                    if g is not None:
                        p -= 0.05 * g
        student.eval()
        losses, sizes = [], []
        with torch.no_grad():
            for batch, teacher_logits in zip(cache["val"], cache["val_logits"]):
                s = student(**batch).logits.double().numpy()
                t = teacher_logits.double().numpy()
                p_t = np.exp(t - t.max(-1, keepdims=True))
                p_t /= p_t.sum(-1, keepdims=True)
                log_s = s - s.max(-1, keepdims=True) - np.log(np.exp(s - s.max(-1, keepdims=True)).sum(-1,
                                                                                                 keepdims=True))
                losses.append(-(p_t * log_s).sum(-1).mean())
                sizes.append(len(t))
        assert record["error"] == pytest.approx(np.average(losses, weights=sizes), rel=1e-4, abs=1e-6)
    assert (out / "best" / "config.json").is_file() and "Top candidates by W" in (out / "report.md").read_text()


@pytest.mark.parametrize("change, message", [
    (dict(teacher="mlm"), "has no classification head: --task needs the teacher fine-tuned"),
    (dict(corpus=["x.txt"]), "--task scores candidates on the task's inputs: drop --corpus"),
    (dict(workers=2), "--task trains its candidates in this process"),
    (dict(task=None, corpus=["x.txt"]), "--train, --dev go with --task"),
    (dict(test="t.csv"), "--test: the search scores candidates on --dev's inputs"),
])
def test_a_task_search_refuses_what_it_cannot_use(change, message, task_teacher, tiny_roberta_dir_module, tmp_path):
    from bort.errors import BortError

    if change.get("teacher") == "mlm":
        change = {**change, "teacher": str(tiny_roberta_dir_module)}
    with pytest.raises(BortError, match=re.escape(message)):
        search(SearchConfig(**{**task_config(task_teacher, tmp_path / "s").to_dict(), **change}), show_progress=False)
    assert not (tmp_path / "s").exists()
