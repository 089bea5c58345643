"""Build RoBERTa's byte-level BPE tokenizer from the original fairseq/GPT-2 files (Liu et al. 2019, RoBERTa).

RoBERTa's vocabulary is GPT-2's BPE re-indexed by fairseq's ``dict.txt``: ``<s>``=0, ``<pad>``=1,
``</s>``=2, ``<unk>``=3, then id = 4 + line index of ``dict.txt`` (each line holds a GPT-2 id whose
string is in ``encoder.json``), and ``<mask>`` last (50264). The merges are GPT-2's ``vocab.bpe``.

Run once to (re)create the tokenizer directory shipped in the package::

    python -m bort.tokenizer.build --gpt2-bpe ../shared/data/bpe/gpt2_bpe \
        --roberta-dict ../shared/data/bpe/roberta/dict.txt --out src/bort/tokenizer/roberta
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bort.errors import BortError

SPECIALS_BEFORE = ("<s>", "<pad>", "</s>", "<unk>")
MASK = "<mask>"

ATTRIBUTION = """\
RoBERTa byte-level BPE tokenizer files, built by `python -m bort.tokenizer.build`.

vocab.json: GPT-2's encoder.json (OpenAI, openai/gpt-2, Modified MIT License) re-indexed by
fairseq's RoBERTa dict.txt (fairseq, MIT License): <s>=0, <pad>=1, </s>=2, <unk>=3,
id = 4 + line index of dict.txt, <mask>=50264.
merges.txt: GPT-2's vocab.bpe (OpenAI, Modified MIT License), identical to RoBERTa's merges.txt.
tokenizer.json and the config files are derived from these two by Hugging Face tokenizers.
"""


def roberta_vocab(encoder: dict[str, int], dict_lines: list[str]) -> dict[str, int]:
    """RoBERTa's token → id map from GPT-2's ``encoder.json`` and fairseq's ``dict.txt`` lines."""
    by_gpt2_id = {i: s for s, i in encoder.items()}
    vocab = {tok: i for i, tok in enumerate(SPECIALS_BEFORE)}
    for line_no, line in enumerate(dict_lines):
        fields = line.split()
        if len(fields) != 2:
            raise BortError(f"dict.txt line {line_no + 1}: expected 'SYMBOL COUNT', got {line!r}")
        symbol = fields[0]
        # Most symbols are GPT-2 ids; fairseq pads the dictionary with 'madeupwordNNNN' entries.
        token = by_gpt2_id[int(symbol)] if symbol.isdigit() else symbol
        vocab[token] = len(SPECIALS_BEFORE) + line_no
    vocab[MASK] = len(vocab)
    return vocab


def build(gpt2_bpe_dir: Path, roberta_dict: Path, out_dir: Path) -> Path:
    """Write a standard Hugging Face RoBERTa tokenizer directory to ``out_dir`` (atomically)."""
    from tokenizers import AddedToken
    from transformers import RobertaTokenizer

    encoder = json.loads((gpt2_bpe_dir / "encoder.json").read_text(encoding="utf-8"))
    lines = [l for l in roberta_dict.read_text(encoding="utf-8").splitlines() if l.strip()]
    vocab = roberta_vocab(encoder, lines)
    bpe_lines = (gpt2_bpe_dir / "vocab.bpe").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in bpe_lines if line and not line.startswith("#version")]
    # RoBERTa's <mask> swallows the space before it, so that "a <mask>" stands for the word " x".
    mask = AddedToken(MASK, lstrip=True, rstrip=False)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=merges, mask_token=mask)
    staging = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer.save_pretrained(str(staging))
    (staging / "ATTRIBUTION.txt").write_text(ATTRIBUTION, encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpt2-bpe", type=Path, required=True, help="folder with encoder.json and vocab.bpe")
    parser.add_argument("--roberta-dict", type=Path, required=True, help="fairseq RoBERTa dict.txt")
    parser.add_argument("--out", type=Path, required=True, help="tokenizer directory to write")
    args = parser.parse_args()
    print(build(args.gpt2_bpe, args.roberta_dict, args.out))


if __name__ == "__main__":
    main()
