"""Held-out masked-LM accuracy and loss, on masks fixed once per run, and the frequency baseline."""

from __future__ import annotations

import numpy as np
import torch

from bort.mlm.dataset import PackedSplit
from bort.mlm.head import masked_logits
from bort.mlm.masking import IGNORE, mask_batch


class MaskedEvalSet:
    """Up to ``n_batches`` validation batches with their masks drawn once, so every evaluation
    of every run with the same seed scores the same predictions."""

    def __init__(self, split: PackedSplit, batch_size: int, n_batches: int, tokenizer, mask_prob: float, seed: int):
        generator = torch.Generator().manual_seed(seed + 7919)  # a stream apart from training's
        self.batches = []
        for start in range(0, min(len(split), batch_size * n_batches), batch_size):
            batch = split.batch(np.arange(start, min(start + batch_size, len(split))))
            ids, labels = mask_batch(batch, tokenizer, generator, mask_prob)
            self.batches.append(({"input_ids": ids, "attention_mask": batch["attention_mask"]}, labels))

    @torch.inference_mode()
    def evaluate(self, model, device) -> dict:
        """MLM accuracy and mean cross-entropy over every masked position of the set."""
        was_training = model.training
        model.eval()
        correct = total = 0
        loss_sum = 0.0
        for batch, labels in self.batches:
            masked = labels != IGNORE
            logits = masked_logits(model, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                                   masked.to(device))
            targets = labels[masked].to(device)
            loss_sum += float(torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum"))
            correct += int((logits.argmax(-1) == targets).sum())
            total += int(targets.numel())
        model.train(was_training)
        return {"val_mlm_accuracy": correct / max(total, 1), "val_mlm_loss": loss_sum / max(total, 1),
                "val_targets": total}

    def most_frequent_baseline(self, train: PackedSplit, special_ids: list[int]) -> dict:
        """Accuracy of always predicting the training split's most frequent ordinary token."""
        ids = train.ids.ravel()  # padding is a special id, zeroed below
        counts = np.bincount(ids, minlength=max(special_ids) + 1)
        counts[special_ids] = 0
        token = int(counts.argmax())
        hits = total = 0
        for _, labels in self.batches:
            targets = labels[labels != IGNORE]
            hits += int((targets == token).sum())
            total += int(targets.numel())
        return {"token_id": token, "accuracy": hits / max(total, 1)}
