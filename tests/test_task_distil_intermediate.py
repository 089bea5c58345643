"""Task distillation's intermediate terms (``bort finetune --teacher --hidden-weight/--attention-weight``): the loss
checked against a computation by hand, the layer map read from ``extraction.json``, and a stopped run that continues
to the weights of an uninterrupted one (the projection included)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from bort.architecture import Arch
from bort.architecture.build import build_roberta
from bort.checkpoint import classifier_from_encoder, load_classifier, save_model_dir
from bort.cli.main import main
from bort.finetune.config import FinetuneConfig
from bort.finetune.distil import TaskTeacher, distillation_loss
from bort.finetune.plain import FineTuning, finetune
from bort.tasks.encode import collate
from bort.tokenizer import load_tokenizer

STUDENT, TEACHER = Arch(1, 2, 32, 64), Arch(2, 4, 64, 128)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A student masked LM ⟨1,2,32,64⟩, the same with an extraction record naming teacher layer 0 and 32 of its
    channels, and a wider RTE teacher ⟨2,4,64,128⟩ on the same vocabulary (so a projection 32 → 64 is needed)."""
    root, tokenizer = tmp_path_factory.mktemp("intermediate"), load_tokenizer()
    save_model_dir(build_roberta(STUDENT, head="mlm", seed=0), tokenizer, root / "student")
    save_model_dir(build_roberta(STUDENT, head="mlm", seed=0), tokenizer, root / "extracted")
    selection = {"layers": [0], "heads": [[[0], [1]]], "attention_dims": [list(range(32))],
                 "neurons": [list(range(64))], "channels": list(range(1, 64, 2)), "head_rule": "trimmed"}
    (root / "extracted" / "extraction.json").write_text(json.dumps({"selection": selection,
                                                                     "teacher_arch": TEACHER.as_list()}))
    save_model_dir(build_roberta(TEACHER, head="mlm", seed=1), tokenizer, root / "encoder")
    torch.manual_seed(3)
    save_model_dir(classifier_from_encoder(root / "encoder", 2, ("entailment", "not_entailment")), tokenizer,
                   root / "teacher")
    return root


def _config(models, shared_data, out, **changes) -> FinetuneConfig:
    values = dict(model=str(models / "student"), task="glue/RTE", data=str(shared_data / "glue/RTE"), out=str(out),
                  teacher=str(models / "teacher"), epochs=1, batch_size=8, lr=1e-3, max_len=48, max_train_examples=32,
                  hidden_weight=0.5, attention_weight=2.0, alpha=0.6, seed=0)
    return FinetuneConfig(**{**values, **changes})


def _log_relations(x: np.ndarray, heads: int, real: np.ndarray) -> np.ndarray:
    """log softmax(x_r x_rᵀ/√d) per relation head over the real keys, by numpy: (B, S, W) → (B, R, S, S)."""
    b, s, width = x.shape
    d = width // heads
    split = x.reshape(b, s, heads, d).transpose(0, 2, 1, 3)
    scores = split @ split.transpose(0, 1, 3, 2) / math.sqrt(d)
    scores = np.where(real[:, None, None, :], scores, -np.inf)
    top = scores.max(-1, keepdims=True)
    return scores - top - np.log(np.exp(scores - top).sum(-1, keepdims=True))


def _qkv(model, states, layer: int) -> list[np.ndarray]:
    """Layer ``layer``'s query, key and value outputs, from its input states (the hidden states before it)."""
    attention = model.base_model.encoder.layer[layer].attention.self
    x = states[layer]
    return [getattr(attention, name)(x).detach().numpy().astype(np.float64) for name in ("query", "key", "value")]


def test_the_batch_loss_adds_the_hand_computed_hidden_and_relation_terms(models, shared_data, tmp_path):
    run = FineTuning(_config(models, shared_data, tmp_path / "run"), show_progress=False)
    run.setup()
    try:
        rows = list(range(8))
        batch = collate(run.enc_train, rows, run.tokenizer.pad_token_id)
        run.model.eval()
        with torch.no_grad():
            got = float(run.batch_loss(batch, rows))
            student = run.model(**batch, output_hidden_states=True)
            teacher_model = load_classifier(models / "teacher")
            teacher = teacher_model(**batch, output_hidden_states=True)
        real = (batch["attention_mask"] > 0).numpy()
        # the mix on the teacher's logits, as without the terms
        soft = torch.from_numpy(TaskTeacher(models / "teacher", run.task, 48).fresh_outputs(run.train_inputs[:8]))
        mix = float(distillation_loss(student.logits, soft, run.labels[rows], torch.ones(8, dtype=torch.bool), 0.6,
                                      2.0, regression=False))
        # γ: the student's last (only) layer against the teacher's evenly mapped layer ⌈1·2/1⌉ − 1 = 1, through the
        # projection's weight W (64, 32): per real token the mean over the 64 channels, then the mean over tokens
        w = run.trained.projection.linear.weight.detach().numpy().astype(np.float64)
        s_state = student.hidden_states[1].numpy().astype(np.float64) @ w.T
        t_state = teacher.hidden_states[2].numpy().astype(np.float64)
        hidden = ((s_state - t_state) ** 2).mean(-1)[real].mean()
        # δ: query, key and value relations of the student's layer 0 and the teacher's layer 1, gcd(2, 4) = 2 heads
        relation = 0.0
        with torch.no_grad():
            pairs = zip(_qkv(run.model, student.hidden_states, 0), _qkv(teacher_model, teacher.hidden_states, 1))
            for s_x, t_x in pairs:
                log_s, log_t = _log_relations(s_x, 2, real), _log_relations(t_x, 2, real)
                with np.errstate(invalid="ignore"):  # −inf − −inf at padded keys, zeroed by the mask
                    kl = np.where(real[:, None, None, :], np.exp(log_t) * (log_t - log_s), 0.0).sum(-1)  # (B, R, S)
                relation += kl.mean(1)[real].sum() / real.sum()
        assert got == pytest.approx(mix + 0.5 * hidden + 2.0 * relation, rel=1e-4)
        assert run.intermediate.describe() == {"hidden_weight": 0.5, "attention_weight": 2.0, "layer_map": [1],
                                               "layer_map_from": "evenly spaced", "projection": True}
    finally:
        run.run_dir.release()


def test_an_extracted_student_learns_from_the_layers_and_channels_it_was_cut_from(models, shared_data, tmp_path):
    run = FineTuning(_config(models, shared_data, tmp_path / "run", model=str(models / "extracted")),
                     show_progress=False)
    run.setup()
    try:
        assert run.intermediate.describe()["layer_map"] == [0]
        assert run.intermediate.describe()["layer_map_from"] == "extraction.json"
        # the projection starts as the channels' embedding: student channel k ↔ teacher channel 2k + 1
        expected = torch.zeros(64, 32)
        expected[torch.arange(1, 64, 2), torch.arange(32)] = 1.0
        assert torch.equal(run.trained.projection.linear.weight.detach(), expected)
        # and the optimizer trains it
        trained = {id(p) for group in run.optimizer.param_groups for p in group["params"]}
        assert id(run.trained.projection.linear.weight) in trained
    finally:
        run.run_dir.release()


def test_a_stopped_run_continues_to_the_weights_of_an_uninterrupted_one(models, shared_data, tmp_path, monkeypatch):
    whole = finetune(_config(models, shared_data, tmp_path / "whole", epochs=2, patience=5), show_progress=False)
    original = FineTuning.train_epoch

    def stop_in_the_second_epoch(self, epoch, bar):
        if epoch == 2:
            raise KeyboardInterrupt
        original(self, epoch, bar)

    monkeypatch.setattr(FineTuning, "train_epoch", stop_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        finetune(_config(models, shared_data, tmp_path / "resumed", epochs=2, patience=5), show_progress=False)

    def never_the_first_epoch_again(self, epoch, bar):
        assert epoch == 2, "the resumed run trained epoch 1 again"
        original(self, epoch, bar)

    monkeypatch.setattr(FineTuning, "train_epoch", never_the_first_epoch_again)
    resumed = finetune(_config(models, shared_data, tmp_path / "resumed", epochs=2, patience=5), show_progress=False)
    assert resumed["history"] == [{**h, "seconds": r["seconds"]} for h, r in zip(whole["history"],
                                                                               resumed["history"])]
    card = (tmp_path / "resumed" / "README.md").read_text()
    assert "γ 0.5 (hidden states, teacher layers [1] evenly spaced), δ 2 (attention relations)" in card
    # the last epoch's weights and projection (model.safetensors beside them is the best epoch's, perhaps the first)
    for name in ("model/model.safetensors", "projection.safetensors"):
        a, b = (load_file(str(next((tmp_path / run / "checkpoints").iterdir()) / name)) for run in ("whole", "resumed"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


@pytest.mark.parametrize("flag", ["--hidden-weight", "--attention-weight"])
def test_the_terms_without_a_teacher_are_one_line(models, shared_data, tmp_path, capsys, flag):
    code = main(["finetune", "--model", str(models / "student"), "--task", "glue/RTE", "--data",
                 str(shared_data / "glue/RTE"), "--out", str(tmp_path / "out"), flag, "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and f"{flag} applies with --teacher" in err
    assert not (tmp_path / "out").exists()
