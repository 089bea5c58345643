"""``bort extract``: a ⟨D,A,H,I⟩ student cut out of its teacher, with the teacher's own weights."""

from __future__ import annotations

from bort.config import HelpFormatter, add_options
from bort.extract.config import ExtractConfig

DESCRIPTION = """\
The paper extracts a shape and trains it from random weights; bort also extracts the weights. A
⟨D,A,H,I⟩ student keeps D of the teacher's layers, A heads per layer, I FFN neurons per layer and H
hidden channels, chosen by their importance on a few calibration batches of --corpus (Minitron's
activation-based scores, Muralidharan et al. 2024; --importance taylor for |activation × gradient|).
Layers: the D whose removal changes the teacher's last hidden states most are kept (--layers
importance), or every k-th (--layers uniform, DistilBERT's initialisation).

A removed hidden channel is removed from the embeddings, every projection, every LayerNorm, the
pooler and the masked-LM head alike. Heads: a student's head size is H/A; when it equals the
teacher's, the A most important heads are kept whole (an exact selection: keeping the teacher's own
shape reproduces it exactly); when smaller, each kept head keeps its most important dimensions; when
larger, the most important heads are regrouped, several teacher heads to a student head (Bort's
⟨4,8,1024,768⟩ from RoBERTa-large: 16 heads of 64 become 8 of 128).

After `bort search --init extract`, give --scores SEARCH_DIR/importance.json (and --config
SEARCH_DIR/best/config.json): the student is then the network the search scored, cut by the same
scores, and no calibration is needed.

--out receives a Hugging Face directory of the teacher's class and head (from_pretrained loads it,
no remote code), the teacher's tokenizer, extract_config.json, extraction.json (what was kept, the
scores, the parameter count) and importance.png. Re-running the same command keeps that student
(a changed setting is refused; --restart extracts again). Distil it next:
  bort pretrain --mode kd --teacher TEACHER_DIR --init OUT_DIR --corpus ... --out RUN_DIR"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("extract", help="a student cut out of its teacher, with the teacher's weights",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, ExtractConfig)
    p.set_defaults(run=run, config_class=ExtractConfig)


def run(cfg: ExtractConfig) -> int:
    from bort.extract.extractor import extract

    report = extract(cfg)
    selection = report["selection"]
    share = report["encoder_parameters"] / report["teacher_encoder_parameters"]
    print(f"extracted ⟨{','.join(map(str, report['arch']))}⟩ from ⟨{','.join(map(str, report['teacher_arch']))}⟩: "
          f"{report['parameters'] / 1e6:.2f}M parameters, encoder {100 * share:.0f}% of the teacher's; layers "
          f"{selection['layers']}; heads {selection['head_rule']}")
    print(f"kept the extraction already in {cfg.out} (the same settings; --restart extracts again)"
          if report.get("kept") else f"wrote a Hugging Face directory to {cfg.out} (extraction.json, importance.png)")
    return 0
