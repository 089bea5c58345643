"""The user's budget in `bort search`: which candidates fit (judged on î's interval), which are trained, how they
rank (by ê within the budget), and a re-run with another budget that trains only the newcomers."""

import csv
import json
import math
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
