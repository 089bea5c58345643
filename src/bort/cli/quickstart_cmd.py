"""``bort quickstart``: the pipeline on embedded data, on a laptop CPU, in minutes."""

from __future__ import annotations

from bort.config import HelpFormatter, add_options
from bort.quickstart import QuickstartConfig

DESCRIPTION = """\
Runs the pipeline end to end on the data shipped with bort (four public-domain novels and a
2,000-sentence sample of GLUE SST-2), with progress shown, in under ten minutes on a 2-core CPU:
  1. architectures: exact parameter counts and FLOPs of Bort and its comparisons (bort arch);
  2. latency on this machine: RoBERTa-large, RoBERTa-base and Bort side by side, and Bort's int8 /
     ONNX fast paths with their parity (bort bench, short protocol);
  3. a teacher: the real pretrained BERT of `make real-model` (all-MiniLM-L6-v2) given a masked-LM
     head and a few minutes of continued MLM on the novels (bort pretrain --mode mlm --init); without
     it, a small teacher pre-trained from scratch;
  4. the FPTAS over a small space against that teacher, latency measured here (bort search);
  5. the architecture it chose, cut out of the teacher with its own weights (bort extract) and
     distilled from it (bort pretrain --mode kd --init);
  6. that student fine-tuned on the SST-2 sample and scored on its dev set (bort finetune);
  7. that student served: the fastest export path on this CPU that keeps its outputs (bort export
     --auto);
  8. Agora: the student fine-tuned again, the real model (fine-tuned on the sample) as Socrates
     labelling perturbations of its mistakes, scored on the held-out half of dev beside plain
     fine-tuning with the same hyperparameter sets, with its diagnostics (bort finetune --method agora).
Each pre-trained model's held-out MLM accuracy is printed beside the accuracy of always predicting
the most frequent token, and each fine-tuned model's accuracy beside the majority class.
Everything it writes goes under --out; a second run reuses only the tokenization cache."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("quickstart", help="the whole pipeline on embedded data, in minutes",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, QuickstartConfig)
    p.set_defaults(run=run, config_class=QuickstartConfig)


def run(cfg: QuickstartConfig) -> int:
    from bort.quickstart import quickstart

    quickstart(cfg)
    return 0
