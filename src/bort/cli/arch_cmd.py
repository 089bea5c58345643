"""``bort arch``: exact parameter counts and FLOPs for architectures ⟨D,A,H,I⟩."""

from __future__ import annotations

import json

from bort.architecture.report import ArchConfig
from bort.config import HelpFormatter, add_options

DESCRIPTION = """\
Exact parameter counts (the paper's Lemma 2) and forward FLOPs per sequence (Lemma 1) of
BERT-family architectures. With no argument: the paper's comparison table (RoBERTa-large,
BERT-large, RoBERTa-base, Bort as released and as printed, TinyBERT-4, BERT-Mini, BERT-Small,
BERT-of-Theseus). With D,A,H,I arguments: those, with RoBERTa's vocabulary (V=50265, S=514, T=1)
unless --vocab/--positions/--type-vocab or --like MODEL_DIR say otherwise.

"total" is embeddings + encoder (no pooler, no head); "effective" is the encoder alone (the paper's
size "not counting the embedding layer"); percentages compare like with like against BERT-large
and RoBERTa-large."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("arch", help="parameter counts and FLOPs of architectures", description=DESCRIPTION,
                              formatter_class=HelpFormatter)
    add_options(p, ArchConfig)
    p.set_defaults(run=run, config_class=ArchConfig)


def vocab_of_config(cfg: ArchConfig):
    """V, S, T: RoBERTa's, or --like's, with any of --vocab/--positions/--type-vocab replacing its part."""
    from bort.architecture import Vocab

    base = Vocab()
    if cfg.like:
        from bort.architecture.hf_config import vocab_of
        from bort.checkpoint import load_config

        base = vocab_of(load_config(cfg.like))
    return Vocab(cfg.vocab if cfg.vocab is not None else base.size,
                 cfg.positions if cfg.positions is not None else base.positions,
                 cfg.type_vocab if cfg.type_vocab is not None else base.type_vocab)


def run(cfg: ArchConfig) -> int:
    from bort.architecture import Arch
    from bort.architecture.report import rows_for, table

    archs = [Arch.parse(a) for a in cfg.archs]
    rows = rows_for(archs, vocab_of_config(cfg) if archs else None)
    print(json.dumps(rows, indent=2) if cfg.json else table(rows))
    return 0
