import numpy as np
import pytest
import torch

from bort.architecture import Arch, Vocab
from bort.architecture.build import build_roberta
from bort.pretrain.losses import kd_loss, masked_logits, mlm_loss, training_loss
from bort.pretrain.masking import IGNORE


def test_kd_loss_against_a_hand_computed_kl():
    rng = np.random.default_rng(0)
    s, t, tau = rng.normal(size=(3, 7)), rng.normal(size=(3, 7)), 2.0

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p, q = softmax(t / tau), softmax(s / tau)
    expected = tau**2 * np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=-1))
    assert float(kd_loss(torch.tensor(s), torch.tensor(t), tau)) == pytest.approx(expected, rel=1e-6)
    assert float(kd_loss(torch.tensor(s), torch.tensor(s), tau)) == pytest.approx(0.0, abs=1e-7)


def test_masked_positions_logits_equal_the_full_model():
    model = build_roberta(Arch(2, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=0)
    ids = torch.randint(4, 60, (2, 10))
    attention = torch.ones_like(ids)
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[0, 3] = positions[1, 7] = positions[1, 2] = True
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=attention).logits
        assert torch.allclose(masked_logits(model, ids, attention, positions), full[positions], atol=1e-5)


def test_training_loss_mlm_equals_hf_loss_and_kd_combines():
    student = build_roberta(Arch(1, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=0)
    teacher = build_roberta(Arch(2, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=1)
    ids = torch.randint(4, 60, (3, 12), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    labels = torch.full_like(ids, IGNORE)
    labels[:, 4] = ids[:, 4]
    labels[1, 9] = ids[1, 9]
    student.eval(), teacher.eval()
    parts = training_loss(student, batch, labels)
    hf = student(**batch, labels=labels).loss  # HF's own MLM loss over every position
    assert float(parts.total.detach()) == pytest.approx(float(hf.detach()), rel=1e-5)
    assert parts.count == 4 and parts.kd is None

    kd = training_loss(student, batch, labels, teacher, alpha=0.1, beta=0.5, temperature=2.0)
    positions = labels != IGNORE
    with torch.no_grad():
        s_logits, t_logits = student(**batch).logits[positions], teacher(**batch).logits[positions]
    expected = 0.1 * float(mlm_loss(s_logits, labels[positions])) + 0.5 * float(kd_loss(s_logits, t_logits, 2.0))
    assert float(kd.total.detach()) == pytest.approx(expected, rel=1e-5)
    kd.total.backward()  # the teacher's outputs are usable targets, and gradients reach the student only
    assert student.lm_head.dense.weight.grad is not None
    assert all(p.grad is None for p in teacher.parameters())

    everywhere = training_loss(student, batch, labels, teacher, kd_all_positions=True)
    assert float(everywhere.mlm.detach()) == pytest.approx(float(kd.mlm.detach()), rel=1e-6)
    assert float(everywhere.kd.detach()) != pytest.approx(float(kd.kd.detach()), rel=1e-3)
