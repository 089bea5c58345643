"""The FPTAS end to end with tiny models on real text: reports, the teacher cache, re-runs, parallelism."""

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


def built_params(config_dict: dict) -> int:
    """Embeddings + encoder of a model built from its config: numel, independent of bort's counting."""
    from transformers import AutoModel, RobertaConfig

    model = AutoModel.from_config(RobertaConfig(**config_dict), add_pooling_layer=False)
    return sum(p.numel() for p in model.parameters())


def brute_force_pareto(points: list[tuple[float, float, float]]) -> list[bool]:
    """Not dominated: no other point is at least as good in all three and strictly better in one."""
    def dominates(b, a):
        return b[0] <= a[0] and b[1] <= a[1] and b[2] <= a[2] and (b[0] < a[0] or b[1] < a[1] or b[2] < a[2])
    return [not any(dominates(b, a) for b in points) for a in points]


def test_search_writes_every_report_and_w_recomputes(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    import statistics

    out = tmp_path / "s"
    summary = search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, latency="measured",
                            latency_repeats=3, latency_max_rounds=6), show_progress=False)
    for name in ("search_config.json", "latency.jsonl", "candidates.jsonl", "ranking.csv", "pareto.png",
                 "best/config.json", "report.md", "search_summary.json"):
        assert (out / name).is_file(), name
    rows = read_ranking(out)
    assert len(rows) == 16 and [int(r["rank"]) for r in rows] == list(range(1, 17))

    # p(T) and every p are the built models' numel (embeddings + encoder), counted here independently
    teacher = json.loads((tiny_roberta_dir / "config.json").read_text())
    p_t = built_params(teacher)
    assert summary["p_T"] == p_t
    for r in rows[:4]:
        arch = {"num_hidden_layers": int(r["D"]), "num_attention_heads": int(r["A"]), "hidden_size": int(r["H"]),
                "intermediate_size": int(r["I"])}
        assert int(r["params"]) == built_params({**teacher, **arch})

    # î(T) is the median of T's per-round times; a candidate's î is î(T) times the median of its per-round
    # ratios to T (computed here from the logged rounds), inside its own 95% interval
    latency = [json.loads(l) for l in (out / "latency.jsonl").read_text().splitlines()]
    assert latency[0]["key"] == "T" and latency[0]["device"]["torch"] and len(latency) == 17
    teacher_rounds = latency[0]["rounds_ms"]
    assert len(teacher_rounds) >= 3 and latency[0]["value"] == statistics.median(teacher_rounds)
    for record in latency[1:]:
        assert len(record["rounds_ms"]) == len(teacher_rounds) == record["rounds"]
        ratios = [c / t for c, t in zip(record["rounds_ms"], teacher_rounds)]
        assert record["value"] == pytest.approx(latency[0]["value"] * statistics.median(ratios), rel=1e-12)
        assert record["low"] <= record["value"] <= record["high"]
    assert summary["latency_intervals"]["T"] == [latency[0]["low"], latency[0]["high"]]
    latency_t = latency[0]["value"]
    assert summary["latency_T"] == latency_t
    by_key = {l["key"]: l["value"] for l in latency}
    for r in rows:
        assert float(r["latency"]) == by_key[",".join(r[k] for k in "DAHI")]
        size, speed = 1 - float(r["params"]) / p_t, 1 - float(r["latency"]) / latency_t
        expected = size * speed / float(r["error"])
        assert float(r["W"]) == pytest.approx(expected if size > 0 and speed > 0 else -abs(expected), rel=1e-12)
    assert [float(r["W"]) for r in rows] == sorted((float(r["W"]) for r in rows), reverse=True)

    flags = brute_force_pareto([(float(r["params"]), float(r["latency"]), float(r["error"])) for r in rows])
    assert [r["pareto"] == "1" for r in rows] == flags
    best = json.loads((out / "best" / "config.json").read_text())
    assert [best[k] for k in ("num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size")] == \
        [int(rows[0][k]) for k in "DAHI"]
    assert best["vocab_size"] == 50265 and best["architectures"] == ["RobertaForMaskedLM"]
    assert "Cost of this search" in (out / "report.md").read_text()


def test_soft_cross_entropy_against_numpy():
    from bort.distill.losses import soft_cross_entropy

    rng = np.random.default_rng(0)
    s, t, tau = rng.normal(size=(4, 9)), rng.normal(size=(4, 9)), 1.5

    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    expected = -np.mean(np.sum(np.exp(log_softmax(t / tau)) * log_softmax(s / tau), axis=-1))
    assert float(soft_cross_entropy(torch.tensor(s), torch.tensor(t), tau)) == pytest.approx(expected, rel=1e-6)
    assert expected > 0


def test_candidate_training_moves_towards_the_teacher(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    """ê after s SGD steps is lower than the same freshly initialised model's held-out cross-entropy."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    from bort.architecture import Arch
    from bort.architecture.hf_config import student_config
    from bort.distill.losses import soft_cross_entropy
    from bort.search.candidate import candidate_seed, train_and_score

    # A teacher with an opinion: a random model's distribution is nearly uniform, so give its output a strong prior.
    teacher = AutoModelForMaskedLM.from_pretrained(tiny_roberta_dir)
    with torch.no_grad():
        teacher.lm_head.bias += torch.randn(teacher.lm_head.bias.shape, generator=torch.Generator().manual_seed(0)) * 3
    teacher.save_pretrained(tmp_path / "teacher")
    out = tmp_path / "s"
    search(config(tmp_path / "teacher", corpus, token_cache, out, space_file, epsilon=16), show_progress=False)
    train, val, _ = load(out / "teacher_cache")
    arch = Arch(2, 4, 32, 32)
    cfg = student_config(AutoConfig.from_pretrained(tmp_path / "teacher"), arch)
    torch.manual_seed(candidate_seed(0, arch))
    fresh = AutoModelForMaskedLM.from_config(cfg).eval()
    total = count = 0
    with torch.no_grad():
        for b in val:
            logits = fresh(input_ids=b.input_ids, attention_mask=b.attention_mask).logits[b.positions]
            n = int(b.positions.sum())
            total += float(soft_cross_entropy(logits, torch.from_numpy(b.teacher_logits.astype("float32")), 1.0)) * n
            count += n
    before = total / count
    after = train_and_score(arch, cfg, train, val, steps=12, lr=0.5, clip=1.0, warmup_steps=0, temperature=1.0, seed=0)
    assert after["e_hat"] < before - 0.5, (before, after["e_hat"])
    assert after["train_losses"][-1] < after["train_losses"][0]


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


def test_kill_and_rerun_gives_the_same_ranking(tiny_roberta_dir, corpus, token_cache, space_file, tmp_path):
    straight = tmp_path / "straight"
    search(config(tiny_roberta_dir, corpus, token_cache, straight, space_file, steps=6), show_progress=False)

    killed = tmp_path / "killed"
    args = ["search", "--teacher", str(tiny_roberta_dir), "--corpus", corpus, "--out", str(killed),
            "--space", space_file, "--steps", "6", "--lr", "0.05", "--batch-size", "4", "--seq-len", "32",
            "--val-batches", "2", "--latency", "flops", "--latency-seq-len", "32", "--cache-dir", token_cache,
            "--threads-per-worker", "1"]
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

    result = subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True,
                            env=env)  # the same command again
    assert result.returncode == 0, result.stderr
    assert len(path.read_text().splitlines()) == 16  # the finished ones were not trained again
    assert read_ranking(killed) == read_ranking(straight)


def test_a_rerun_continues_a_changed_config_is_refused_and_restart_starts_over(tiny_roberta_dir, corpus, token_cache,
                                                                             space_file, tmp_path):
    from bort.errors import BortError

    out = tmp_path / "s"
    first = search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4), show_progress=False)
    assert first["trained_this_run"] == first["candidates_kept"] == 4
    # the same search again: what is finished is kept
    again = search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4), show_progress=False)
    assert again["trained_this_run"] == 0 and read_ranking(out) and again["best"] == first["best"]
    with pytest.raises(BortError, match=r"settings changed \(steps .*search_config.json holds the original.*--restart"):
        search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4, steps=5), show_progress=False)
    # execution settings may change
    search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4, workers=2), show_progress=False)
    # --restart: the earlier search deleted, every candidate trained again with the new settings
    (out / "left-by-the-first-search.txt").write_text("x")
    fresh = search(config(tiny_roberta_dir, corpus, token_cache, out, space_file, epsilon=4, steps=5, restart=True),
                   show_progress=False)
    assert fresh["trained_this_run"] == 4 and not (out / "left-by-the-first-search.txt").exists()
    assert json.loads((out / "search_config.json").read_text())["steps"] == 5
    records = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(len(r["train_losses"]) == 5 for r in records)


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
    ("not-mlm", "not a masked LM"), ("epsilon", "--epsilon must be at least 1"),
    ("steps", "--steps must be at least 1"), ("space", "no valid architecture"), ("small", "the corpus is too small"),
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


def test_init_extract_starts_each_candidate_from_the_teachers_weights(tiny_roberta_dir, corpus, token_cache,
                                                                      tmp_path):
    """A candidate of the teacher's own shape, started from its extracted weights and barely moved (lr 1e-12),
    has ê = the teacher's own entropy on the held-out batches, the least any candidate can reach; from random
    weights it does not."""
    space = tmp_path / "own.json"
    space.write_text(json.dumps({"depths": [1, 2], "heads": [4], "hiddens": [32], "intermediates": [48]}))
    errors = {}
    for init in ("extract", "random"):
        out = tmp_path / init
        search(config(tiny_roberta_dir, corpus, token_cache, out, str(space), init=init, lr=1e-12), show_progress=False)
        errors[init] = {(r["D"], r["A"], r["H"], r["I"]): float(r["error"]) for r in read_ranking(out)}
    _, val, _ = load(tmp_path / "extract" / "teacher_cache")
    entropy, count = 0.0, 0
    for batch in val:
        p = torch.softmax(torch.from_numpy(batch.teacher_logits.astype("float32")), -1)
        entropy += float(-(p * p.clamp_min(1e-30).log()).sum())
        count += len(p)
    own = ("2", "4", "32", "48")
    assert errors["extract"][own] == pytest.approx(entropy / count, rel=1e-4)
    assert errors["random"][own] > errors["extract"][own] + 1e-3
    assert (tmp_path / "extract" / "importance.json").is_file() \
        and not (tmp_path / "random" / "importance.json").exists()


def test_bort_extract_with_the_searchs_scores_builds_the_network_the_search_scored(tiny_roberta_dir, corpus,
                                                                                    token_cache, tmp_path):
    from bort.architecture import Arch
    from bort.extract.config import ExtractConfig
    from bort.extract.extractor import extract
    from bort.search.workers import _extracted_state

    space = tmp_path / "space.json"
    space.write_text(json.dumps({"depths": [1], "heads": [2], "hiddens": [16], "intermediates": [24]}))
    out = tmp_path / "search"
    search(config(tiny_roberta_dir, corpus, token_cache, out, str(space), init="extract"), show_progress=False)
    extract(ExtractConfig(teacher=str(tiny_roberta_dir), arch=[1, 2, 16, 24], scores=str(out / "importance.json"),
                          out=str(tmp_path / "student")), show_progress=False)
    from safetensors.torch import load_file

    written = load_file(str(tmp_path / "student" / "model.safetensors"))
    scored = _extracted_state(Arch(1, 2, 16, 24), str(tiny_roberta_dir), str(out / "importance.json"))
    assert all(torch.equal(written[k], scored[k]) for k in written)
