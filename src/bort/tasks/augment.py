"""Perturbations φ of a task input: Agora's transformation of its mistakes, and the copies that
`bort finetune --augment` adds (labelled by the teacher).

Each φ takes one text and a seeded ``random.Random`` and returns a perturbed text (or the same text
when it cannot change it). Words carrying a task's markers (WSC's ``[span]`` and ``*pronoun*``,
WiC's ``*word*``) are never touched. Pair tasks perturb one segment at a time (:func:`perturb`).

- ``mlm-replace``: mask a share of the word pieces (default 15%) and fill each by sampling from a
  masked LM's distribution at that position, the original piece excluded. With the quickstart's MLM,
  "the film is a charming and often affecting journey" became "the film is a charming and deeply
  affecting journey".
- ``word-dropout``: drop a share of the words (at least one): "a charming and often affecting
  journey" → "a charming often affecting journey".
- ``word-swap``: swap one or more pairs of neighbouring words: "a charming and often affecting
  journey" → "a and charming often affecting journey".
"""

from __future__ import annotations

import random
from typing import Callable

import torch

from bort.errors import BortError
from bort.tasks.example import Example

MARKERS = ("[", "]", "*")


def _protected(word: str) -> bool:
    return any(m in word for m in MARKERS)


def word_dropout(text: str, rng: random.Random, fraction: float) -> str:
    words = text.split()
    free = [i for i, w in enumerate(words) if not _protected(w)]
    if len(words) < 2 or not free:
        return text
    drop = set(rng.sample(free, max(1, min(len(free), round(fraction * len(words))))))
    if len(drop) == len(words):
        drop.pop()
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def word_swap(text: str, rng: random.Random, fraction: float) -> str:
    words = text.split()
    pairs = [i for i in range(len(words) - 1) if not _protected(words[i]) and not _protected(words[i + 1])
             and words[i] != words[i + 1]]
    if not pairs:
        return text
    for i in rng.sample(pairs, max(1, min(len(pairs), round(fraction * len(words) / 2)))):
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


class MaskedLMReplace:
    """``mlm-replace`` with one masked LM and its tokenizer (loaded once, reused for every text)."""

    def __init__(self, model_dir: str, fraction: float):
        from bort.checkpoint import load_masked_lm
        from bort.tokenizer import load_tokenizer

        self.model = load_masked_lm(model_dir).eval()
        self.tokenizer = load_tokenizer(model_dir)
        self.fraction = fraction
        self.special_ids = set(self.tokenizer.all_special_ids)
        self.special = torch.tensor(sorted(self.special_ids))

    @torch.inference_mode()
    def __call__(self, text: str, rng: random.Random, fraction: float | None = None) -> str:
        fraction = self.fraction if fraction is None else fraction
        enc = self.tokenizer(text, truncation=True, max_length=256, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        spans = [(i, a, b) for i, (a, b) in enumerate(offsets)
                 if b > a and ids[i] not in self.special_ids and not _protected(_word_at(text, a))]
        if not spans:
            return text
        chosen = sorted(rng.sample(spans, max(1, min(len(spans), round(fraction * len(spans))))), key=lambda s: s[1])
        masked = torch.tensor([ids])
        for i, _, _ in chosen:
            masked[0, i] = self.tokenizer.mask_token_id
        logits = self.model(input_ids=masked, attention_mask=torch.ones_like(masked)).logits[0]
        generator = torch.Generator().manual_seed(rng.getrandbits(31))
        pieces = []
        for i, a, b in chosen:
            row = logits[i].float()
            row[self.special] = -float("inf")
            row[ids[i]] = -float("inf")  # a different piece, or the text would not change
            new = int(torch.multinomial(torch.softmax(row, -1), 1, generator=generator))
            token = self.tokenizer.convert_ids_to_tokens(new)
            piece = self.tokenizer.convert_tokens_to_string([token.removeprefix("##")]).strip()
            if piece and "\ufffd" not in piece:  # a byte-level piece that is not a whole character stays as it was
                pieces.append((a, b, piece))
        out, last = [], 0
        for a, b, piece in pieces:
            out += [text[last:a], piece]
            last = b
        return "".join(out + [text[last:]])


def _word_at(text: str, position: int) -> str:
    """The whitespace-delimited word around a character position."""
    start = text.rfind(" ", 0, position) + 1
    end = text.find(" ", position)
    return text[start:end if end >= 0 else len(text)]


PHIS = ("mlm-replace", "word-dropout", "word-swap")


def make_phi(name: str, fraction: float, mlm_dir: str | None = None) -> Callable[[str, random.Random], str]:
    """The φ called ``name``; ``mlm-replace`` samples from the masked LM in ``mlm_dir``."""
    if name == "mlm-replace":
        if not mlm_dir:
            raise BortError("--phi mlm-replace needs a masked-LM directory "
                            "(--phi-model, or a --model with an MLM head)")
        return MaskedLMReplace(mlm_dir, fraction)
    if name == "word-dropout":
        return lambda text, rng: word_dropout(text, rng, fraction)
    if name == "word-swap":
        return lambda text, rng: word_swap(text, rng, fraction)
    raise BortError(f"--phi {name}: unknown; expected one of {', '.join(PHIS)}")


def perturb(phi: Callable[[str, random.Random], str], example: Example, k: int, rng: random.Random,
            seen: set[tuple]) -> list[tuple[Example, str]]:
    """Up to ``k`` new inputs from ``example``: each perturbs one segment (pairs alternate between their two,
    from a seeded start), keeps the other; one identical to its source or to any text in ``seen`` is
    discarded (``seen`` grows). Returns (unlabelled example, the segment changed)."""
    segments = ["text_a"] if example.text_b is None else ["text_a", "text_b"]
    start = rng.randrange(len(segments))
    out = []
    for n in range(k):
        segment = segments[(start + n) % len(segments)]
        changed = phi(getattr(example, segment), rng)
        new = Example(uid=example.uid, text_a=example.text_a, text_b=example.text_b, group=None)
        setattr(new, segment, changed)
        key = (new.text_a, new.text_b)
        if changed == getattr(example, segment) or key in seen:
            continue
        seen.add(key)
        out.append((new, segment))
    return out
