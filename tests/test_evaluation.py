"""Held-out MLM accuracy and loss against an independent count, on a model whose predictions are known."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bort.architecture import Arch, Vocab
from bort.architecture.build import build_roberta
from bort.mlm.dataset import PackedSplit
from bort.mlm.evaluation import MaskedEvalSet
from bort.mlm.masking import IGNORE

V, FAVOURITE = 20, 7  # a 20-token vocabulary; the model always predicts token 7


@pytest.fixture
def split():
    rng = np.random.default_rng(0)
    ids = rng.integers(4, V - 1, size=(12, 16)).astype(np.int32)
    ids[rng.random(ids.shape) < 0.5] = FAVOURITE  # half the tokens are the favourite
    ids[:, 0], ids[:, -1] = 0, 2
    lengths = np.full(12, 16, dtype=np.int32)
    lengths[::3] = 10  # some rows padded
    for row in range(0, 12, 3):
        ids[row, 9], ids[row, 10:] = 2, 1
    return PackedSplit(ids, lengths)


class _Tok(SimpleNamespace):
    def __len__(self):
        return V


def test_accuracy_and_loss_match_an_independent_count(split):
    tokenizer = _Tok(all_special_ids=[0, 1, 2, 3, V - 1], mask_token_id=V - 1)
    model = build_roberta(Arch(1, 2, 16, 24), Vocab(V, 40, 1), head="mlm", seed=0).eval()
    with torch.no_grad():
        model.lm_head.bias[FAVOURITE] += 100.0  # argmax is the favourite token at every position
    eval_set = MaskedEvalSet(split, batch_size=4, n_batches=3, tokenizer=tokenizer, mask_prob=0.3, seed=0)
    result = eval_set.evaluate(model, "cpu")

    hits = total = 0
    loss = 0.0
    for batch, labels in eval_set.batches:
        with torch.no_grad():
            logits = model(**batch).logits  # the full model, every position
        for row, col in zip(*torch.nonzero(labels != IGNORE, as_tuple=True)):
            target = int(labels[row, col])
            hits += target == FAVOURITE
            loss -= float(torch.log_softmax(logits[row, col].double(), -1)[target])
            total += 1
    assert result["val_targets"] == total > 20
    assert result["val_mlm_accuracy"] == pytest.approx(hits / total)
    assert 0.3 < hits / total < 0.8  # the check means something: neither 0 nor 1
    assert result["val_mlm_loss"] == pytest.approx(loss / total, rel=1e-4)


def test_most_frequent_baseline_counts_ordinary_tokens_only(split):
    tokenizer = _Tok(all_special_ids=[0, 1, 2, 3, V - 1], mask_token_id=V - 1)
    eval_set = MaskedEvalSet(split, batch_size=4, n_batches=3, tokenizer=tokenizer, mask_prob=0.3, seed=0)
    baseline = eval_set.most_frequent_baseline(split, tokenizer.all_special_ids)
    assert baseline["token_id"] == FAVOURITE
    targets = np.concatenate([labels[labels != IGNORE].numpy() for _, labels in eval_set.batches])
    assert baseline["accuracy"] == pytest.approx(np.mean(targets == FAVOURITE))
