"""``bort pretrain``: distil a student from a teacher (KD), or pre-train with masked LM alone."""

from __future__ import annotations

from bort.config import HelpFormatter, add_options
from bort.pretrain.config import PretrainConfig

DESCRIPTION = """\
Knowledge distillation (--mode kd): loss = α·MLM + β·τ²·KL(teacher_τ ‖ student_τ) over the masked
positions (α=0.1, β=0.5, τ=2 by default, as in the official Bort scripts); the teacher runs without
gradients. Masked LM alone (--mode mlm) needs no teacher: that is also how to make a small teacher.

The corpus is plain text files, folders or globs (Project Gutenberg header and licence stripped;
WikiText .tokens files split by article). It is tokenized once and cached, packed into <s> … </s>
sequences of up to --seq-len tokens, split into train/validation by document, and masked afresh
for every batch (15%: 80% <mask>, 10% random, 10% kept; special tokens never masked).

The run directory receives a Hugging Face checkpoint (config.json, model.safetensors, tokenizer)
that AutoModelForMaskedLM.from_pretrained loads, plus pretrain_config.json, metrics.jsonl,
curves.png and checkpoints/ (every --save-every steps, the last --keep-checkpoints kept).
Re-running the same command continues exactly where the last checkpoint left off (a changed
setting is refused; --restart starts over).

Many processes or GPUs: launch the same command with Accelerate or torchrun, e.g.
  accelerate launch --num_processes 8 -m bort.cli.main pretrain ...      (one node, 8 GPUs)
  torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
      -m bort.cli.main pretrain ...                                       (two nodes)
--batch-size is the global batch; each process takes its slice."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="knowledge distillation or MLM pre-training", description=DESCRIPTION,
                              formatter_class=HelpFormatter)
    add_options(p, PretrainConfig)
    p.set_defaults(run=run, config_class=PretrainConfig)


def run(cfg: PretrainConfig) -> int:
    from bort.pretrain.trainer import pretrain

    final = pretrain(cfg)
    if "val_mlm_accuracy" in final:
        base = final["baseline_most_frequent"]
        print(f"held-out MLM accuracy {final['val_mlm_accuracy']:.4f} (loss {final['val_mlm_loss']:.3f}) "
              f"vs {base['accuracy']:.4f} for always predicting the most frequent token")
        print(f"wrote a Hugging Face checkpoint to {cfg.out}")
    elif not final.get("finished"):
        print(f"stopped after step {final['step']}; re-run the same command to continue")
    return 0
