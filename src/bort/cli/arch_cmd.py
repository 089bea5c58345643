"""``bort arch``: exact parameter counts and FLOPs for architectures ⟨D,A,H,I⟩."""

from __future__ import annotations

import argparse
import json

from bort.architecture import Arch, Vocab, count_params, flops_per_sequence
from bort.architecture.reference import REFERENCE_MODELS, reference
from bort.util.table import format_table

SEQ_LENGTHS = (128, 512)

DESCRIPTION = """\
Exact parameter counts (Lemma 2) and forward FLOPs per sequence (Lemma 1) of BERT-family
architectures. With no argument: the paper's comparison table (RoBERTa-large, BERT-large,
RoBERTa-base, Bort as released and as printed, TinyBERT-4, BERT-Mini, BERT-Small, BERT-of-Theseus).
With D,A,H,I arguments: those, with RoBERTa's vocabulary (V=50265, S=514, T=1) unless
--vocab/--positions/--type-vocab or --like TEACHER_DIR say otherwise.

"total" is embeddings + encoder (no pooler, no head); "effective" is the encoder alone (the paper's
size "not counting the embedding layer"); percentages compare like with like against BERT-large
and RoBERTa-large."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("arch", help="parameter counts and FLOPs of architectures", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("archs", nargs="*", metavar="D,A,H,I", help="architectures, e.g. 4,8,1024,768")
    p.add_argument("--vocab", type=int, help="vocabulary size V (default 50265, RoBERTa's)")
    p.add_argument("--positions", type=int, help="position embeddings S (default 514, RoBERTa's)")
    p.add_argument("--type-vocab", type=int, help="token types T (default 1, RoBERTa's)")
    p.add_argument("--like", metavar="TEACHER_DIR", help="take V, S, T from this model directory's config.json")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(run=run)


def summarise(name: str, arch: Arch, vocab: Vocab) -> dict:
    """One row of the table: counts, FLOPs and percentages against BERT-large and RoBERTa-large."""
    params = count_params(arch, vocab)
    row = {
        "name": name,
        "arch": arch.as_list(),
        "vocab": [vocab.size, vocab.positions, vocab.type_vocab],
        "params_embeddings": params.embeddings,
        "params_encoder": params.encoder,
        "params_total": params.total,
        "params_pooler": params.pooler,
        "params_mlm_head": params.mlm_head,
        "params_total_with_pooler": params.total + params.pooler,
        "flops_per_seq": {str(n): flops_per_sequence(arch, n) for n in SEQ_LENGTHS},
    }
    for ref_name, key in (("BERT-large", "bert_large"), ("RoBERTa-large", "roberta_large")):
        ref = reference(ref_name)
        ref_params = count_params(ref.arch, ref.vocab)
        row[f"pct_of_{key}"] = {
            "total": 100.0 * params.total / ref_params.total,
            "effective": 100.0 * params.effective / ref_params.effective,
        }
    return row


def _vocab_from_args(args) -> Vocab:
    base = Vocab()
    if args.like:
        from bort.architecture.hf_config import load_teacher_config, vocab_of

        base = vocab_of(load_teacher_config(args.like))
    return Vocab(
        args.vocab if args.vocab is not None else base.size,
        args.positions if args.positions is not None else base.positions,
        args.type_vocab if args.type_vocab is not None else base.type_vocab,
    )


def run(args) -> int:
    if args.archs:
        vocab = _vocab_from_args(args)
        rows = [summarise(str(a), a, vocab) for a in map(Arch.parse, args.archs)]
    else:
        rows = [summarise(m.name, m.arch, m.vocab) for m in REFERENCE_MODELS]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    headers = ["model", "⟨D,A,H,I⟩", "V", "total M", "+pooler M", "effective M",
               "GFLOPs@128", "GFLOPs@512", "% BERT-L tot/eff", "% RoBERTa-L tot/eff"]
    table = [
        [
            r["name"],
            ",".join(map(str, r["arch"])),
            r["vocab"][0],
            f"{r['params_total'] / 1e6:.2f}",
            f"{r['params_total_with_pooler'] / 1e6:.2f}",
            f"{r['params_encoder'] / 1e6:.2f}",
            f"{r['flops_per_seq']['128'] / 1e9:.1f}",
            f"{r['flops_per_seq']['512'] / 1e9:.1f}",
            f"{r['pct_of_bert_large']['total']:.1f} / {r['pct_of_bert_large']['effective']:.1f}",
            f"{r['pct_of_roberta_large']['total']:.1f} / {r['pct_of_roberta_large']['effective']:.1f}",
        ]
        for r in rows
    ]
    print(format_table(headers, table))
    return 0
