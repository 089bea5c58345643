"""Pre-training end to end on real text with tiny models: outputs, exact continuation on a re-run, DDP, errors."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from bort.errors import BortError
from bort.pretrain.config import PretrainConfig
from bort.pretrain.trainer import pretrain
from bort.training import train_state

ARCH = "1,2,32,64"


@pytest.fixture(scope="module")
def corpus(shared_data):
    return str(shared_data / "text" / "gutenberg" / "120-0.txt")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("token-cache"))


def cli_args(corpus, cache, out, *extra):
    return ["pretrain", "--mode", "mlm", "--arch", ARCH, "--corpus", corpus, "--out", str(out), "--seq-len", "32",
            "--batch-size", "4", "--lr", "1e-3", "--warmup-steps", "2", "--log-every", "1", "--eval-every", "3",
            "--val-batches", "2", "--cache-dir", cache, *extra]


def run_cli(*args, launcher=None, env_extra=None):
    cmd = (launcher or [sys.executable, "-m", "bort.cli.main"]) + list(args)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def losses(out):
    return [json.loads(l)["loss"] for l in (out / "metrics.jsonl").read_text().splitlines()]


def config(corpus, cache, out, **overrides):
    values = dict(mode="mlm", arch=[1, 2, 32, 64], corpus=[corpus], out=str(out), seq_len=32, batch_size=4, max_steps=6,
                  lr=1e-3, warmup_steps=2, save_every=3, eval_every=3, val_batches=2, log_every=1, cache_dir=cache,
                  seed=0)
    return PretrainConfig(**{**values, **overrides})


def test_mlm_run_writes_a_loadable_checkpoint(corpus, cache, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    out = tmp_path / "run"
    final = pretrain(config(corpus, cache, out), show_progress=False)
    assert final["finished"] and final["val_targets"] > 0
    model = AutoModelForMaskedLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.num_hidden_layers == 1 and model.config.hidden_size == 32
    logits = model(**tokenizer("The sea was <mask>.", return_tensors="pt")).logits
    assert logits.shape[-1] == 50265
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "mlm_loss", "lr", "tokens_per_s"} <= set(records[0])
    assert "val_mlm_accuracy" in records[2] and "val_mlm_loss" in records[5]
    assert json.loads((out / "pretrain_config.json").read_text())["arch"] == [1, 2, 32, 64]
    assert [p.name for p in train_state.list_checkpoints(out)] == ["step-0000003", "step-0000006"]


def test_a_rerun_of_the_same_command_continues_exactly(corpus, cache, tmp_path):
    straight = tmp_path / "straight"
    pretrain(config(corpus, cache, straight, dropout=0.1), show_progress=False)
    split = tmp_path / "split"
    first = pretrain(config(corpus, cache, split, dropout=0.1, stop_after=3), show_progress=False)
    assert first["step"] == 3 and not first["finished"]
    pretrain(config(corpus, cache, split, dropout=0.1), show_progress=False)  # the same command, without --stop-after
    assert losses(split) == losses(straight)  # bit for bit, dropout included
    from safetensors.torch import load_file

    a, b = load_file(str(straight / "model.safetensors")), load_file(str(split / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_changed_setting_is_refused_and_restart_starts_over(corpus, cache, tmp_path):
    out = tmp_path / "run"
    pretrain(config(corpus, cache, out, stop_after=3), show_progress=False)
    before = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    with pytest.raises(BortError, match="settings changed \\(lr .*pretrain_config.json.*--restart"):
        pretrain(config(corpus, cache, out, lr=5e-4), show_progress=False)
    assert [p.name for p in train_state.list_checkpoints(out)] == ["step-0000003"]  # the refused run touched nothing
    (out / "left-by-the-first-run.txt").write_text("x")
    final = pretrain(config(corpus, cache, out, lr=5e-4, restart=True), show_progress=False)
    assert final["finished"] and not (out / "left-by-the-first-run.txt").exists()  # the directory was emptied
    after = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in after] == [1, 2, 3, 4, 5, 6]  # from step 1, not from the old checkpoint at 3
    assert after[0]["loss"] == before[0]["loss"] and after[1]["loss"] != before[1]["loss"]  # the new lr from step 1
    assert json.loads((out / "pretrain_config.json").read_text())["lr"] == 5e-4


def test_kill_9_loses_only_the_steps_since_the_last_checkpoint(corpus, cache, tmp_path):
    out = tmp_path / "killed"
    args = cli_args(corpus, cache, out, "--max-steps", "100000", "--save-every", "2", "--keep-checkpoints", "3")
    proc = subprocess.Popen([sys.executable, "-m", "bort.cli.main", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.time() + 300
    while time.time() < deadline and len(train_state.list_checkpoints(out)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = train_state.list_checkpoints(out)
    assert len(saved) >= 2
    before = {json.loads(l)["step"]: json.loads(l)["loss"] for l in (out / "metrics.jsonl").read_text().splitlines()}
    last = train_state.step_of(saved[-1])

    result = run_cli(*cli_args(corpus, cache, out, "--max-steps", "100000", "--save-every", "2", "--keep-checkpoints",
                               "3", "--stop-after", "2"))
    assert result.returncode == 0, result.stderr
    after = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in after] == list(range(1, last + 3))  # trimmed to the checkpoint, then continued
    for r in after:
        if r["step"] in before:
            assert r["loss"] == before[r["step"]]  # the replayed steps reproduce the killed run's


def weights(out):
    from safetensors.torch import load_file

    return load_file(str(out / "model.safetensors"))


def assert_same_weights(a, b, atol=1e-5):
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < atol, f"weights differ by up to {worst:.3g}"


def test_two_processes_agree_with_one(corpus, cache, tmp_path):
    """DDP over 2 processes trains the same model as 1 process: each process's loss is normalised by the
    global batch's masked-token count, so the averaged gradients are the global batch's gradient."""
    common = ["--max-steps", "5", "--dropout", "0", "--save-every", "5", "--lr", "3e-3"]
    single = run_cli(*cli_args(corpus, cache, tmp_path / "one", *common))
    assert single.returncode == 0, single.stderr
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                "bort.cli.main"]
    double = run_cli(*cli_args(corpus, cache, tmp_path / "two", *common), launcher=launcher,
                     env_extra={"OMP_NUM_THREADS": "1"})
    assert double.returncode == 0, double.stderr
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 5
    assert two == pytest.approx(one, rel=1e-5)
    # Five steps of lr 3e-3 move the weights by ~1e-2; an unsynchronised process would be that far off.
    assert_same_weights(weights(tmp_path / "one"), weights(tmp_path / "two"))


def test_gradient_accumulation_equals_one_big_batch(corpus, cache, tmp_path):
    pretrain(config(corpus, cache, tmp_path / "one", max_steps=3, dropout=0.0, lr=3e-3), show_progress=False)
    pretrain(config(corpus, cache, tmp_path / "acc", max_steps=3, dropout=0.0, lr=3e-3, grad_accum=4),
             show_progress=False)
    assert losses(tmp_path / "acc") == pytest.approx(losses(tmp_path / "one"), rel=1e-5)
    assert_same_weights(weights(tmp_path / "one"), weights(tmp_path / "acc"))


def test_training_lowers_the_loss(corpus, cache, tmp_path):
    """40 MLM steps on a novel take a fresh model from uniform guessing (ln 50265 = 10.8) to a held-out loss
    more than 3 nats lower."""
    import math

    out = tmp_path / "run"
    final = pretrain(config(corpus, cache, out, max_steps=40, batch_size=8, lr=1e-2, schedule="constant", eval_every=40,
                            save_every=40, log_every=5), show_progress=False)
    train = [json.loads(l)["loss"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert train[0] > 10.0 and sum(train[-3:]) / 3 < train[0] - 2.5, train
    assert final["val_mlm_loss"] < math.log(50265) - 3.0, final


def test_kd_run(corpus, cache, tmp_path, tiny_roberta_dir):
    out = tmp_path / "kd"
    final = pretrain(config(corpus, cache, out, mode="kd", teacher=str(tiny_roberta_dir), max_steps=3),
                     show_progress=False)
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["kd_loss"] > 0 and r["loss"] == pytest.approx(0.1 * r["mlm_loss"] + 0.5 * r["kd_loss"], rel=1e-4)
               for r in records)
    assert final["finished"]


@pytest.mark.parametrize("case", ["empty", "vocab", "corrupt", "nan", "arch"])
def test_bad_input_is_one_line_exit_2(case, corpus, cache, tmp_path, tiny_roberta_dir):
    out = tmp_path / "run"
    args = cli_args(corpus, cache, out, "--max-steps", "4", "--save-every", "2")
    if case == "empty":
        (tmp_path / "empty.txt").write_text("")
        args = cli_args(str(tmp_path / "empty.txt"), cache, out)
        message = "holds no text"
    elif case == "vocab":
        from bort.architecture import Arch, Vocab
        from bort.architecture.build import build_roberta

        build_roberta(Arch(1, 2, 8, 8), Vocab(100, 40, 1), head="mlm").save_pretrained(tmp_path / "teacher")
        args = [a if a != "mlm" else "kd" for a in args] + ["--teacher", str(tmp_path / "teacher")]
        message = "differs from the tokenizer"
    elif case == "corrupt":
        assert run_cli(*args, "--stop-after", "2").returncode == 0
        (train_state.list_checkpoints(out)[-1] / "optimizer.pt").write_bytes(b"truncated")  # the re-run reads it
        message = "damaged or incomplete"
    elif case == "nan":
        args = cli_args(corpus, cache, out, "--max-steps", "20", "--save-every", "1") + ["--lr", "1e30", "--clip", "0"]
        message = "the loss became nan"
    else:
        args = [a if a != ARCH else "2,3,32,64" for a in args]
        message = "not divisible"
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr[-2000:]
    err = result.stderr.strip().splitlines()
    assert err[-1].startswith("bort: error:") and message in err[-1], err[-1]
    assert "Traceback" not in result.stderr
    if case == "nan":
        assert "last good checkpoint" in err[-1]
        assert not list((out / "checkpoints").glob("*.partial"))


def test_bf16_autocast_and_gradient_accumulation(corpus, cache, tmp_path):
    out = tmp_path / "bf16"
    result = run_cli(*cli_args(corpus, cache, out, "--max-steps", "3", "--precision", "bf16", "--grad-accum", "2",
                               "--save-every", "3"))
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(0 < r["loss"] < 20 for r in records)
    assert json.loads((out / "pretrain_config.json").read_text())["precision"] == "bf16"
