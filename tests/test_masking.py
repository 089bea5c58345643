import torch

from bort.mlm.masking import IGNORE, mask_tokens, special_tokens_mask

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
    torch.manual_seed(123)  # the global generator plays no part
    b = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(5))
    c = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # the corrupted ids and the labels
    assert not torch.equal(a[1], c[1])


def test_every_row_gets_a_target():
    ids = torch.tensor([[0, 50, 2, 1, 1], [0, 2, 1, 1, 1]])  # the second row holds no ordinary token
    special = special_tokens_mask(ids, torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]]), [0, 1, 2])
    for seed in range(20):
        corrupted, labels = mask_tokens(ids, special, MASK, VOCAB, torch.Generator().manual_seed(seed))
        assert labels.tolist() == [[IGNORE, 50, IGNORE, IGNORE, IGNORE], [IGNORE] * 5]
        assert corrupted[1].tolist() == [0, 2, 1, 1, 1]


def test_random_replacements_are_drawn_from_the_whole_vocabulary():
    """The 10% random replacements are uniform over the vocabulary, not a handful of ids."""
    ids, attention = _batch(128, 256)
    vocab = 1000
    special = special_tokens_mask(ids, attention, [0, 1, 2])
    corrupted, labels = mask_tokens(ids, special, MASK, vocab, torch.Generator().manual_seed(2))
    chosen = labels != IGNORE
    replaced = corrupted[chosen & (corrupted != MASK) & (corrupted != ids)]
    assert len(replaced) > 300
    assert len(set(replaced.tolist())) > 250  # ~400 draws from 1000 ids: mostly distinct
    assert abs(float(replaced.float().mean()) - vocab / 2) < vocab * 0.06  # uniform over [0, 1000): mean 500
    assert int((replaced >= 90).sum()) > 0.8 * len(replaced)  # most lie outside the batch's own ids (10..89)


def test_replacements_cover_every_id_of_a_small_vocabulary():
    ids, attention = _batch(64, 256)
    special = special_tokens_mask(ids, attention, [0, 1, 2])
    corrupted, labels = mask_tokens(ids, special, 5, 6, torch.Generator().manual_seed(3))  # ids 0..5, <mask> = 5
    swapped = (labels != IGNORE) & (corrupted != 5) & (corrupted != ids)
    assert set(corrupted[swapped].tolist()) == {0, 1, 2, 3, 4}


def test_mask_batch_with_the_real_tokenizer():
    """Special tokens and padding are never chosen; 15% of the ordinary tokens by default."""
    from bort.mlm.masking import mask_batch
    from bort.tokenizer import load_tokenizer

    tokenizer = load_tokenizer()
    text = ["It was the best of times, it was the worst of times, it was the age of wisdom. " * 6, "A short one."]
    batch = tokenizer(text, padding=True, return_tensors="pt")
    batch = {"input_ids": batch["input_ids"].repeat(40, 1), "attention_mask": batch["attention_mask"].repeat(40, 1)}
    corrupted, labels = mask_batch(batch, tokenizer, torch.Generator().manual_seed(0))
    again = mask_batch(batch, tokenizer, torch.Generator().manual_seed(0))
    assert torch.equal(corrupted, again[0]) and torch.equal(labels, again[1])  # the generator decides everything
    chosen = labels != IGNORE
    specials = torch.isin(batch["input_ids"], torch.tensor(tokenizer.all_special_ids)) | (batch["attention_mask"] == 0)
    assert not (chosen & specials).any()
    assert abs(float(chosen.sum() / (~specials).sum()) - 0.15) < 0.02
    assert int((corrupted == tokenizer.mask_token_id).sum()) > 0.7 * int(chosen.sum())
    assert int(corrupted.max()) < len(tokenizer)
