import torch

from bort.pretrain.masking import IGNORE, mask_tokens, special_tokens_mask

MASK, VOCAB = 99, 100


def _batch(rows=64, seq=256):
    ids = torch.randint(10, 90, (rows, seq), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = 0, 2
    attention = torch.ones_like(ids)
    attention[: rows // 2, seq // 2:] = 0  # half the rows padded
    ids[attention == 0] = 1
    return ids, attention


def test_rates_and_specials():
    ids, attention = _batch()
    special = special_tokens_mask(ids, attention, [0, 1, 2])
    corrupted, labels = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE
    ordinary = ~special
    assert not (chosen & special).any()  # specials and padding never chosen
    assert abs(chosen.sum() / ordinary.sum() - 0.15) < 0.01
    assert torch.equal(labels[chosen], ids[chosen])
    masked = (corrupted == MASK) & chosen
    kept = (corrupted == ids) & chosen
    n = chosen.sum()
    assert abs(masked.sum() / n - 0.8) < 0.02
    assert abs(kept.sum() / n - 0.1) < 0.02 + 0.01  # random replacements sometimes equal the original
    assert torch.equal(corrupted[~chosen], ids[~chosen])  # nothing else changes


def test_deterministic_given_generator_and_fresh_otherwise():
    ids, attention = _batch(4, 64)
    special = special_tokens_mask(ids, attention, [0, 1, 2])
    a = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(5))
    b = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(5))
    c = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(6))
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


def test_every_row_gets_a_target():
    ids = torch.tensor([[0, 50, 2, 1, 1]])
    special = special_tokens_mask(ids, torch.tensor([[1, 1, 1, 0, 0]]), [0, 1, 2])
    for seed in range(20):
        _, labels = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(seed))
        assert labels.tolist() == [[IGNORE, 50, IGNORE, IGNORE, IGNORE]]
