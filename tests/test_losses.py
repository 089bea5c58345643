import numpy as np
import pytest
import torch

from bort.architecture import Arch, Vocab
from bort.architecture.build import build_roberta
from bort.mlm.head import masked_logits
from bort.distill.losses import kd_loss
from bort.mlm.losses import mlm_loss, training_loss
from bort.mlm.masking import IGNORE


def test_kd_loss_against_a_hand_computed_kl():
    rng = np.random.default_rng(0)
    s, t, tau = rng.normal(size=(3, 7)), rng.normal(size=(3, 7)), 2.0

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    for tau in (2.0, 3.0, 0.5):  # τ² is not 2τ: check away from τ = 2
        p, q = softmax(t / tau), softmax(s / tau)
        expected = tau**2 * np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=-1))
        assert float(kd_loss(torch.tensor(s), torch.tensor(t), tau)) == pytest.approx(expected, rel=1e-6)
    assert float(kd_loss(torch.tensor(s), torch.tensor(s), tau)) == pytest.approx(0.0, abs=1e-7)
    # one position: the mean is that position's value
    p, q = softmax(t[:1] / 2), softmax(s[:1] / 2)
    one = 4 * np.sum(p * (np.log(p) - np.log(q)))
    assert float(kd_loss(torch.tensor(s[:1]), torch.tensor(t[:1]), 2.0)) == pytest.approx(one, rel=1e-6)
    logits, target = rng.normal(size=(1, 7)), 3
    expected_ce = -(logits[0, target] - np.log(np.exp(logits[0]).sum()))
    assert float(mlm_loss(torch.tensor(logits), torch.tensor([target]))) == pytest.approx(expected_ce, rel=1e-6)


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
    assert float(parts.mlm.detach()) == pytest.approx(float(hf.detach()), rel=1e-5)
    assert parts.count == 4 and parts.kd is None
    with torch.no_grad():
        predicted = student(**batch).logits.argmax(-1)
    assert parts.correct == int((predicted == labels)[labels != IGNORE].sum())

    kd = training_loss(student, batch, labels, teacher)  # the defaults: α 0.1, β 0.5, τ 2 (the official scripts)
    positions = labels != IGNORE
    with torch.no_grad():
        s_logits, t_logits = student(**batch).logits[positions], teacher(**batch).logits[positions]
    expected = 0.1 * float(mlm_loss(s_logits, labels[positions])) + 0.5 * float(kd_loss(s_logits, t_logits, 2.0))
    assert float(kd.total.detach()) == pytest.approx(expected, rel=1e-5)
    assert (kd.correct, kd.count) == (parts.correct, 4)
    kd.total.backward()  # the teacher's outputs are usable targets, and gradients reach the student only
    assert student.lm_head.dense.weight.grad is not None
    assert all(p.grad is None for p in teacher.parameters())

    everywhere = training_loss(student, batch, labels, teacher, kd_all_positions=True)
    assert float(everywhere.mlm.detach()) == pytest.approx(float(kd.mlm.detach()), rel=1e-6)
    assert float(everywhere.kd.detach()) != pytest.approx(float(kd.kd.detach()), rel=1e-3)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_kd_over_all_positions_skips_padding():
    """With kd_all_positions the KL term averages over the real tokens of a padded batch, never the padding:
    checked against a per-position loop over the full models' outputs."""
    student = build_roberta(Arch(1, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=0).eval()
    teacher = build_roberta(Arch(2, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=1).eval()
    ids = torch.randint(4, 60, (3, 12), generator=torch.Generator().manual_seed(0))
    attention = torch.ones_like(ids)
    attention[0, 7:] = 0
    attention[2, 4:] = 0
    ids[attention == 0] = 1
    labels = torch.full_like(ids, IGNORE)
    labels[0, 2], labels[1, 5], labels[2, 1] = ids[0, 2], ids[1, 5], ids[2, 1]
    batch = {"input_ids": ids, "attention_mask": attention}
    tau = 2.0
    parts = training_loss(student, batch, labels, teacher, alpha=0.1, beta=0.5, temperature=tau, kd_all_positions=True)
    with torch.no_grad():
        s_all = student(**batch).logits.double().numpy()
        t_all = teacher(**batch).logits.double().numpy()
    kls = []
    for row in range(3):
        for col in range(12):
            if attention[row, col]:
                p, q = _softmax(t_all[row, col] / tau), _softmax(s_all[row, col] / tau)
                kls.append(np.sum(p * (np.log(p) - np.log(q))))
    assert len(kls) == 7 + 12 + 4
    assert float(parts.kd.detach()) == pytest.approx(tau**2 * np.mean(kls), rel=1e-5)


def test_denominators_turn_means_into_shares_of_a_global_batch():
    """Two halves of a batch with the whole batch's counts as denominators add up to the whole batch's loss."""
    student = build_roberta(Arch(1, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=0).eval()
    teacher = build_roberta(Arch(1, 2, 16, 24), Vocab(60, 40, 1), head="mlm", seed=1).eval()
    ids = torch.randint(4, 60, (4, 10), generator=torch.Generator().manual_seed(1))
    labels = torch.full_like(ids, IGNORE)
    labels[0, 1], labels[0, 2], labels[1, 3], labels[2, 4], labels[3, 5], labels[3, 6], labels[3, 7] = \
        7, 8, 9, 10, 11, 12, 13
    attention = torch.ones_like(ids)
    whole = training_loss(student, {"input_ids": ids, "attention_mask": attention}, labels, teacher)
    counts = (int((labels != IGNORE).sum()),) * 2
    halves = [training_loss(student, {"input_ids": ids[s], "attention_mask": attention[s]}, labels[s], teacher,
                            denominators=counts) for s in (slice(0, 2), slice(2, 4))]
    assert float(sum(h.total.detach() for h in halves)) == pytest.approx(float(whole.total.detach()), rel=1e-6)
    # the halves' own means (3 and 4 positions) would not add up
    plain = [training_loss(student, {"input_ids": ids[s], "attention_mask": attention[s]}, labels[s], teacher)
             for s in (slice(0, 2), slice(2, 4))]
    assert float(sum(h.total.detach() for h in plain)) / 2 != pytest.approx(float(whole.total.detach()), rel=1e-3)


def test_bert_models_and_wrapped_models_give_the_same_logits():
    """BERT keeps its masked-LM head under ``cls``, RoBERTa under ``lm_head``; a wrapped model is used as is."""
    from transformers import BertConfig, BertForMaskedLM

    from bort.errors import BortError
    from bort.mlm.head import MaskedPositionsLM, lm_head

    torch.manual_seed(0)
    bert = BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=24, max_position_embeddings=20)).eval()
    assert lm_head(bert) is bert.cls
    ids = torch.randint(0, 50, (2, 9))
    attention = torch.ones_like(ids)
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[0, 1] = positions[1, 4] = True
    with torch.no_grad():
        full = bert(input_ids=ids, attention_mask=attention).logits[positions]
        assert torch.allclose(masked_logits(bert, ids, attention, positions), full, atol=1e-5)
        assert torch.allclose(masked_logits(MaskedPositionsLM(bert), ids, attention, positions), full, atol=1e-5)
    with pytest.raises(BortError, match="BertModel has no masked-LM head"):
        lm_head(bert.bert)
