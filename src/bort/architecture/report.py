"""The comparison table of ``bort arch``: exact counts, FLOPs and sizes relative to BERT-large and
RoBERTa-large, for the paper's models or any ⟨D,A,H,I⟩."""

from __future__ import annotations

from dataclasses import dataclass

from bort.architecture.arch import Arch
from bort.architecture.counting import Vocab, count_params, flops_per_sequence
from bort.architecture.reference import REFERENCE_MODELS, reference
from bort.config import Config, option
from bort.util.table import format_table

SEQ_LENGTHS = (128, 512)


@dataclass(kw_only=True)
class ArchConfig(Config):
    archs: list[str] = option(default_factory=list, help="architectures, e.g. 4,8,1024,768 (none: the paper's "
                              "comparison table)", positional=True, nargs="*", metavar="D,A,H,I")
    vocab: int | None = option(None, "vocabulary size V (default: RoBERTa's 50265)", minimum=1)
    positions: int | None = option(None, "position embeddings S (default: RoBERTa's 514)", minimum=1)
    type_vocab: int | None = option(None, "token types T (default: RoBERTa's 1)", minimum=1)
    like: str | None = option(None, "take V, S and T from this model directory's config.json", metavar="MODEL_DIR")
    json: bool = option(False, "print a JSON list instead of a table")


def summarise(name: str, arch: Arch, vocab: Vocab) -> dict:
    """One row: counts part by part, FLOPs, and percentages against BERT-large and RoBERTa-large."""
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
        # like with like: total against total, encoder against encoder
        row[f"pct_of_{key}"] = {
            "total": 100.0 * params.total / ref_params.total,
            "effective": 100.0 * params.effective / ref_params.effective,
        }
    return row


def rows_for(archs: list[Arch], vocab: Vocab) -> list[dict]:
    """The given architectures with ``vocab``, or the paper's reference models when none is given."""
    if archs:
        return [summarise(str(a), a, vocab) for a in archs]
    return [summarise(m.name, m.arch, m.vocab) for m in REFERENCE_MODELS]


def table(rows: list[dict]) -> str:
    headers = ["model", "⟨D,A,H,I⟩", "V", "total M", "+pooler M", "effective M",
               "GFLOPs@128", "GFLOPs@512", "% BERT-L tot/eff", "% RoBERTa-L tot/eff"]
    body = [
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
    return format_table(headers, body)
