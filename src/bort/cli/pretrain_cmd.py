"""``bort pretrain``: distil a student from a teacher (KD), or pre-train with masked LM alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from bort.pretrain.config import MODES, PRECISIONS, SCHEDULES, PretrainConfig

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
--resume continues exactly where the last checkpoint left off.

Many processes or GPUs: launch the same command with Accelerate or torchrun, e.g.
  accelerate launch --num_processes 8 -m bort.cli.main pretrain ...      (one node, 8 GPUs)
  torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
      -m bort.cli.main pretrain ...                                       (two nodes)
--batch-size is the global batch; each process takes its slice."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="knowledge distillation or MLM pre-training", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    d = PretrainConfig.__dataclass_fields__
    p.add_argument("--mode", choices=MODES, default="kd", help="kd (needs --teacher) or mlm (default: kd)")
    p.add_argument("--teacher", metavar="TEACHER_DIR", help="a local HF masked-LM directory")
    p.add_argument("--arch", metavar="D,A,H,I", help="the student's architecture, e.g. 4,8,1024,768")
    p.add_argument("--config", dest="student_config", metavar="CONFIG.json",
                   help="the student's HF config instead of --arch (e.g. a search's best/config.json)")
    p.add_argument("--corpus", nargs="+", required=True, metavar="PATH", help="text files, folders or globs")
    p.add_argument("--out", required=True, help="the run directory")
    p.add_argument("--tokenizer", help="a local tokenizer directory (default: the teacher's, else RoBERTa's)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    g = p.add_argument_group("data")
    g.add_argument("--seq-len", type=int, default=d["seq_len"].default, help="tokens per sequence (default: 512)")
    g.add_argument("--val-fraction", type=float, default=d["val_fraction"].default, help="documents held out (default: 0.05)")
    g.add_argument("--mask-prob", type=float, default=d["mask_prob"].default, help="share of tokens masked (default: 0.15)")
    g.add_argument("--cache-dir", help="tokenization cache (default: RUN_DIR/cache)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--max-steps", type=int, default=d["max_steps"].default, help="optimizer steps (default: 1000)")
    g.add_argument("--batch-size", type=int, default=d["batch_size"].default, help="global batch in sequences (default: 8)")
    g.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step (default: 1)")
    g.add_argument("--lr", type=float, default=d["lr"].default, help="peak learning rate (default: 1e-4)")
    g.add_argument("--weight-decay", type=float, default=d["weight_decay"].default, help="AdamW decay (default: 0.01)")
    g.add_argument("--warmup", type=float, default=d["warmup"].default,
                   help="warm-up: a fraction of --max-steps if < 1, else steps (default: 0.01)")
    g.add_argument("--schedule", choices=SCHEDULES, default="noam", help="learning-rate schedule (default: noam)")
    g.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping; 0 turns it off (default: 1.0)")
    g.add_argument("--precision", choices=PRECISIONS, default="fp32", help="fp32 or bf16 autocast (default: fp32)")
    g.add_argument("--dropout", type=float, help="override the student's dropout")
    g.add_argument("--seed", type=int, default=0, help="seed for initialisation, batches and masks (default: 0)")
    g = p.add_argument_group("distillation")
    g.add_argument("--alpha", type=float, default=0.1, help="weight of the MLM term (default: 0.1)")
    g.add_argument("--beta", type=float, default=0.5, help="weight of the KD term (default: 0.5)")
    g.add_argument("--temperature", type=float, default=2.0, help="softmax temperature τ (default: 2.0)")
    g.add_argument("--kd-all-positions", action="store_true", help="KD over every token, not only the masked ones")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--save-every", type=int, default=200, help="checkpoint interval in steps (default: 200)")
    g.add_argument("--keep-checkpoints", type=int, default=2, help="checkpoints kept (default: 2)")
    g.add_argument("--eval-every", type=int, default=100, help="validation interval in steps (default: 100)")
    g.add_argument("--val-batches", type=int, default=20, help="validation batches (default: 20)")
    g.add_argument("--log-every", type=int, default=10, help="metrics.jsonl interval in steps (default: 10)")
    g.add_argument("--max-minutes", type=float, help="wall-clock budget: end (evaluated and saved) when spent")
    g.add_argument("--stop-after", type=int, help="end this invocation after N steps (checkpointed; --resume later)")
    p.set_defaults(run=run)


def config_from_args(args) -> PretrainConfig:
    from bort.architecture import Arch

    fields = PretrainConfig.__dataclass_fields__
    values = {k: v for k, v in vars(args).items() if k in fields}
    values["arch"] = Arch.parse(args.arch).as_list() if args.arch else None
    return PretrainConfig(**values)


def run(args) -> int:
    from bort.pretrain.curves import plot_curves
    from bort.pretrain.trainer import pretrain

    cfg = config_from_args(args)
    final = pretrain(cfg, resume=args.resume)
    if "val_mlm_accuracy" in final:
        base = final["baseline_most_frequent"]
        plot_curves({cfg.mode: Path(cfg.out)}, Path(cfg.out) / "curves.png", baseline=base["accuracy"])
        print(f"held-out MLM accuracy {final['val_mlm_accuracy']:.4f} (loss {final['val_mlm_loss']:.3f}) "
              f"vs {base['accuracy']:.4f} for always predicting the most frequent token")
        print(f"wrote a Hugging Face checkpoint to {cfg.out}")
    elif not final.get("finished"):
        print(f"stopped after step {final['step']}; continue with --resume")
    return 0
