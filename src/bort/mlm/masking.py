"""Dynamic masking, drawn afresh for every batch (RoBERTa-style; no next-sentence objective)."""

from __future__ import annotations

import torch

IGNORE = -100  # label of positions that are not predicted (PyTorch's cross-entropy default)


def mask_tokens(input_ids: torch.Tensor, special_mask: torch.Tensor, mask_id: int, vocab_size: int,
                generator: torch.Generator, mask_prob: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ``mask_prob`` of the ordinary tokens; replace 80% by ``<mask>``, 10% by a random token, keep 10%.

    ``input_ids``, ``special_mask`` (True at special and padding tokens): (batch, seq).
    Returns the corrupted ids and the labels (the original id where chosen, ``IGNORE`` elsewhere).
    Special and padding tokens are never chosen. Every row with an ordinary token gets at least one
    chosen position, so no batch is without a target.
    """
    shape = input_ids.shape
    scores = torch.rand(shape, generator=generator)
    scores = scores.masked_fill(special_mask, 2.0)  # never below a threshold < 1
    chosen = scores < mask_prob
    # Guarantee one target per row: the row's lowest-scoring ordinary token.
    has_ordinary = (~special_mask).any(dim=1)
    first = scores.argmin(dim=1)
    chosen[torch.arange(shape[0])[has_ordinary], first[has_ordinary]] = True

    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    action = torch.rand(shape, generator=generator)
    random_ids = torch.randint(0, vocab_size, shape, generator=generator)
    corrupted = input_ids.clone()
    corrupted[chosen & (action < 0.8)] = mask_id
    swap = chosen & (action >= 0.8) & (action < 0.9)
    corrupted[swap] = random_ids[swap]
    return corrupted, labels


def special_tokens_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: list[int]) -> torch.Tensor:
    """True at padding and at any of ``special_ids``: (batch, seq) bool."""
    special = attention_mask == 0
    for token in special_ids:
        special |= input_ids == token
    return special


def mask_batch(batch: dict[str, torch.Tensor], tokenizer, generator: torch.Generator,
               mask_prob: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mask_tokens` for a padded batch (input_ids, attention_mask) and a tokenizer's ids."""
    special = special_tokens_mask(batch["input_ids"], batch["attention_mask"], tokenizer.all_special_ids)
    return mask_tokens(batch["input_ids"], special, tokenizer.mask_token_id, len(tokenizer), generator, mask_prob)
