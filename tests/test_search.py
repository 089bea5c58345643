"""The FPTAS end to end with tiny models on real text: reports, the teacher cache, resume, parallelism."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bort.search.config import SearchConfig
from bort.search.runner import search
from bort.search.scoring import w_coefficient
from bort.search.teacher_cache import load

SPACE = {"depths": [1, 2], "heads": [2, 4], "hiddens": [16, 32], "intermediates": [16, 32]}  # 16 tuples


@pytest.fixture(scope="module")
def corpus(shared_data):
    return str(shared_data / "text" / "gutenberg" / "120-0.txt")


@pytest.fixture(scope="module")
def token_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("token-cache"))


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPACE))
    return str(path)


def config(teacher, corpus, token_cache, out, space, **overrides):
    values = dict(teacher=str(teacher), corpus=[corpus], out=str(out), space=space, steps=3, lr=0.05, batch_size=4,
                  seq_len=32, val_batches=2, latency="flops", latency_seq_len=32, cache_dir=token_cache, seed=0,
                  threads_per_worker=1)
    return SearchConfig(**{**values, **overrides})


def read_ranking(out):
    with open(out / "ranking.csv") as f:
        return list(csv.DictReader(f))


def test_search_writes_every_report_and_w_recomputes(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    out = tmp_path / "s"
    summary = search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, latency="measured",
                            latency_repeats=2), show_progress=False)
    for name in ("search_config.json", "latency.jsonl", "candidates.jsonl", "ranking.csv", "pareto.png",
                 "best/config.json", "report.md", "search_summary.json"):
        assert (out / name).is_file(), name
    rows = read_ranking(out)
    assert len(rows) == 16 and [int(r["rank"]) for r in rows] == list(range(1, 17))
    p_t, i_t = summary["p_T"], summary["i_T"]
    for r in rows:
        assert float(r["W"]) == pytest.approx(w_coefficient(float(r["p"]), float(r["i"]), float(r["e"]), p_t, i_t), rel=1e-12)
    assert [float(r["W"]) for r in rows] == sorted((float(r["W"]) for r in rows), reverse=True)
    assert any(r["pareto"] == "1" for r in rows)
    best = json.loads((out / "best" / "config.json").read_text())
    assert [best[k] for k in ("num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size")] == \
        [int(rows[0][k]) for k in "DAHI"]
    assert best["vocab_size"] == 50265 and best["architectures"] == ["RobertaForMaskedLM"]
    latency = [json.loads(l) for l in (out / "latency.jsonl").read_text().splitlines()]
    assert latency[0]["key"] == "T" and latency[0]["device"]["torch"] and len(latency) == 17
    assert "Cost of this search" in (out / "report.md").read_text()


def test_teacher_cache_equals_the_live_teacher(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    from transformers import AutoModelForMaskedLM

    out = tmp_path / "s"
    search(config(tiny_roberta_dir, corpus, token_cache, out, space_file), show_progress=False)
    train, val, info = load(out / "teacher_cache")
    assert info["train_batches"] == 3 and info["val_batches"] == 2
    teacher = AutoModelForMaskedLM.from_pretrained(tiny_roberta_dir).eval()
    for batch in train + val:
        with torch.no_grad():
            live = teacher(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[batch.positions]
        assert batch.teacher_logits.shape == tuple(live.shape)
        assert np.allclose(batch.teacher_logits.astype(np.float32), live.numpy(), atol=1e-2)


def test_kill_and_resume_gives_the_same_ranking(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    straight = tmp_path / "straight"
    search(config(tiny_roberta_dir, corpus, token_cache, straight, space_file, steps=6), show_progress=False)

    killed = tmp_path / "killed"
    args = ["search", "--teacher", str(tiny_roberta_dir), "--corpus", corpus, "--out", str(killed), "--space", space_file,
            "--steps", "6", "--lr", "0.05", "--batch-size", "4", "--seq-len", "32", "--val-batches", "2", "--latency",
            "flops", "--latency-seq-len", "32", "--cache-dir", token_cache, "--threads-per-worker", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bort.cli.main", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    path = killed / "candidates.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and (not path.is_file() or len(path.read_text().splitlines()) < 3):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(path.read_text().splitlines())
    assert 3 <= done_before < 16, "the search finished before it could be killed"

    result = subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert len(path.read_text().splitlines()) == 16  # the finished ones were not trained again
    assert read_ranking(killed) == read_ranking(straight)


def test_changed_config_is_refused(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    from bort.errors import BortError

    out = tmp_path / "s"
    search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4), show_progress=False)
    with pytest.raises(BortError, match="steps changed"):
        search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4, steps=5), show_progress=False)
    # execution settings may change
    search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4, workers=2), show_progress=False)


def test_worker_processes_and_ray_agree_with_serial(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    serial = tmp_path / "serial"
    search(config(tiny_roberta_dir, corpus, token_cache, serial, space_file, epsilon=2), show_progress=False)
    pool = tmp_path / "pool"
    search(config(tiny_roberta_dir, corpus, token_cache, pool, space_file, epsilon=2, workers=2), show_progress=False)
    assert read_ranking(pool) == read_ranking(serial)

    ray_run = tmp_path / "ray"
    search(config(tiny_roberta_dir, corpus, token_cache, ray_run, space_file, epsilon=2, workers=2, ray="local"),
           show_progress=False)
    import ray

    ray.shutdown()
    assert read_ranking(ray_run) == read_ranking(serial)


@pytest.mark.parametrize("case, message", [
    ("not-mlm", "not a masked LM"), ("epsilon", "--epsilon must be at least 1"), ("steps", "--steps (s) must be at least 1"),
    ("space", "no valid architecture"), ("small", "the corpus is too small"),
])
def test_bad_input_is_one_line_exit_2(case, message, tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    args = ["search", "--teacher", str(tiny_roberta_dir), "--corpus", corpus, "--out", str(tmp_path / "s"), "--space",
            space_file, "--seq-len", "32", "--latency", "flops", "--cache-dir", token_cache]
    if case == "not-mlm":
        config_path = tiny_roberta_dir / "config.json"
        data = json.loads(config_path.read_text())
        data["architectures"] = ["RobertaModel"]
        config_path.write_text(json.dumps(data))
    elif case == "epsilon":
        args += ["--epsilon", "0"]
    elif case == "steps":
        args += ["--steps", "0"]
    elif case == "space":
        (tmp_path / "bad.json").write_text(json.dumps({**SPACE, "heads": [3], "hiddens": [16]}))
        args += ["--space", str(tmp_path / "bad.json")]
    else:
        (tmp_path / "small.txt").write_text("\n\n".join(" ".join(["word"] * 1000) for _ in range(3)))  # 3 documents
        args = [a if a != corpus else str(tmp_path / "small.txt") for a in args] + ["--batch-size", "500"]
    result = subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2, result.stderr[-1500:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("bort: error:") and message in last, last
    assert "Traceback" not in result.stderr
