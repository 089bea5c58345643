"""Fine-tuning's learning rate and epochs chosen for the model's size when the user gives none."""

import json
import math

import pytest

from bort.finetune.defaults import default_epochs, default_lr, resolve


@pytest.mark.parametrize("hidden, depth, lr, epochs", [
    (768, 12, 5e-5, 3),  # BERT-base keeps BERT's recipe
    (384, 6, 5e-5 * 2 * math.sqrt(2), 6),  # MiniLM ⟨6,12,384,1536⟩
    (256, 2, 5e-5 * 3 * math.sqrt(6), 9),  # the quickstart's ⟨2,8,256,512⟩
    (1024, 24, 5e-5 * 0.75 * math.sqrt(0.5), 3),  # RoBERTa-large
    (32, 1, 5e-4, 10),  # a tiny test model: clipped
])
def test_the_size_rule(hidden, depth, lr, epochs):
    assert default_lr(hidden, depth) == pytest.approx(lr)
    assert default_epochs(hidden, depth) == epochs


def test_the_users_values_win():
    class Config:
        hidden_size, num_hidden_layers = 256, 2

    assert resolve(2e-5, 4, Config())[:2] == (2e-5, 4)
    lr, epochs, how = resolve(None, 4, Config())
    assert lr == pytest.approx(default_lr(256, 2)) and epochs == 4 and how.startswith("lr from the model's size")


def test_a_run_without_lr_or_epochs_records_what_it_chose(prepared_inputs, tmp_path):
    from bort.finetune.config import FinetuneConfig
    from bort.finetune.plain import finetune

    result = finetune(FinetuneConfig(model=prepared_inputs["mlm"], task="glue/RTE", data=prepared_inputs["rte"],
                                     out=str(tmp_path / "run"), max_train_examples=16, max_len=32, batch_size=8,
                                     patience=1), show_progress=False)
    assert result["lr"] == default_lr(32, 1) and result["epochs"] == 10
    assert len(result["history"]) <= 10 and "from the model's size" in result["lr_and_epochs"]


def test_a_run_says_what_the_hint_says_in_metrics_and_on_the_command_line(prepared_inputs, tmp_path, monkeypatch,
                                                                        capsys):
    """The hint is asked with the run's own best epoch, epochs run and epochs given, and what it says reaches
    metrics.json and the command's output."""
    import bort.finetune.plain as plain
    from bort.cli.main import main

    asked = []
    monkeypatch.setattr(plain, "more_epochs_hint", lambda *args: asked.append(args) or "still improving")
    out = tmp_path / "run"
    assert main(["finetune", "--model", prepared_inputs["mlm"], "--task", "glue/RTE", "--data", prepared_inputs["rte"],
                 "--out", str(out), "--max-train-examples", "16", "--max-len", "32", "--batch-size", "8",
                 "--epochs", "2", "--patience", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert asked == [(metrics["best_epoch"], 2, 2)]
    assert metrics["more_epochs"] == "still improving"
    assert "note: still improving (--epochs 4)" in capsys.readouterr().out


@pytest.mark.parametrize("best, run, epochs, says", [
    (6, 6, 6, True),  # all epochs run, the last the best: still improving
    (5, 6, 6, False),  # the best came earlier
    (3, 6, 10, False),  # early stopping ended it: patience ran out
    (1, 1, 1, False),  # one epoch: nothing was compared
])
def test_a_run_still_improving_at_its_last_epoch_says_so(best, run, epochs, says):
    from bort.finetune.defaults import more_epochs_hint

    hint = more_epochs_hint(best, run, epochs)
    assert (hint is not None) == says
    if says:
        assert f"{2 * epochs} epochs may score higher" in hint
