"""Examples to model inputs, and a model's outputs over a list of examples."""

from __future__ import annotations

import numpy as np
import torch

from bort.tasks.example import Example


def encode(tokenizer, examples: list[Example], max_len: int) -> dict[str, list]:
    """Token ids of every example: ``<s> a </s></s> b </s>``, truncated to ``max_len`` (longest side first)."""
    a = [ex.text_a for ex in examples]
    b = [ex.text_b for ex in examples]
    if all(x is None for x in b):
        return tokenizer(a, truncation=True, max_length=max_len)
    b = [x if x is not None else "" for x in b]
    return tokenizer(a, b, truncation="longest_first", max_length=max_len)


def collate(encoded: dict[str, list], rows, pad_id: int) -> dict[str, torch.Tensor]:
    """A padded batch of the given rows: input_ids, attention_mask and, for tokenizers that make them
    (BERT's WordPiece: 0 for the first text, 1 for the second), token_type_ids; each (len(rows), longest)."""
    ids = [encoded["input_ids"][r] for r in rows]
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    types = torch.zeros((len(ids), width), dtype=torch.long) if "token_type_ids" in encoded else None
    for i, (r, x) in enumerate(zip(rows, ids)):
        input_ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
        if types is not None:
            types[i, :len(x)] = torch.tensor(encoded["token_type_ids"][r])
    batch = {"input_ids": input_ids, "attention_mask": mask}
    return batch if types is None else {**batch, "token_type_ids": types}


@torch.inference_mode()
def model_outputs(model, tokenizer, examples: list[Example], max_len: int = 256, batch_size: int = 32,
                  encoded: dict | None = None) -> np.ndarray:
    """The model's logits over ``examples``: (n, num_labels). Sorted by length for speed, returned in order."""
    model.eval()
    encoded = encoded or encode(tokenizer, examples, max_len)
    order = np.argsort([len(x) for x in encoded["input_ids"]])
    out = np.zeros((len(examples), model.config.num_labels), dtype=np.float32)
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = {k: v.to(device) for k, v in collate(encoded, rows, tokenizer.pad_token_id).items()}
        out[rows] = model(**batch).logits.float().cpu().numpy()
    return out
