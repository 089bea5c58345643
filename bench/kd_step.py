"""Training throughput of bort's KD step against a naive KD step, in one process.

Naive: the student's and the teacher's LM heads over every position, KL over the full vocabulary
at every position (what a straightforward port of the loss does). Ours: the encoders over every
position, the LM heads and KL only at the masked positions (~15%).
Same student, teacher, batches, masks and optimizer; tokens/s = real tokens per second of
optimizer steps (forward, backward, AdamW).

    python bench/kd_step.py [--student 4,8,256,1024] [--teacher 6,8,512,2048] [--seq-len 128]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from bort.architecture import Arch
from bort.architecture.build import build_roberta
from bort.measure.device import device_record
from bort.distill.losses import kd_loss
from bort.mlm.losses import training_loss
from bort.mlm.masking import IGNORE, mask_tokens, special_tokens_mask
from bort.training.optim import build_optimizer
from bort.util.quiet import quiet_libraries


def naive_kd_loss(student, teacher, batch, labels, alpha=0.1, beta=0.5, temperature=2.0):
    logits = student(**batch).logits  # (batch, seq, V): the head at every position
    with torch.no_grad():
        teacher_logits = teacher(**batch).logits
    mlm = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=IGNORE)
    real = batch["attention_mask"].bool()
    return alpha * mlm + beta * kd_loss(logits[real], teacher_logits[real], temperature)


def time_steps(step_fn, n_steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step_fn()
    start = time.perf_counter()
    for _ in range(n_steps):
        step_fn()
    return (time.perf_counter() - start) / n_steps


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", default="4,8,256,1024")
    parser.add_argument("--teacher", default="6,8,512,2048")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(0)
    student = build_roberta(Arch.parse(args.student), head="mlm", seed=0).train()
    teacher = build_roberta(Arch.parse(args.teacher), head="mlm", seed=1).eval().requires_grad_(False)
    ids = torch.randint(4, 50265, (args.batch_size, args.seq_len), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = 0, 2
    attention = torch.ones_like(ids)
    special = special_tokens_mask(ids, attention, [0, 1, 2])
    masked_ids, labels = mask_tokens(ids, special, 50264, 50265, torch.Generator().manual_seed(1))
    batch = {"input_ids": masked_ids, "attention_mask": attention}
    tokens = int(attention.sum())

    def make_step(loss_fn):
        optimizer, _ = build_optimizer(student, 1e-4, 0.01, "constant", 1, 10)

        def step():
            loss = loss_fn()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return step

    ours = make_step(lambda: training_loss(student, batch, labels, teacher).total)
    naive = make_step(lambda: naive_kd_loss(student, teacher, batch, labels))
    # Interleave to share any drift in machine load fairly between the two.
    t_ours, t_naive = [], []
    for _ in range(2):
        t_naive.append(time_steps(naive, args.steps, args.warmup))
        t_ours.append(time_steps(ours, args.steps, args.warmup))
    s_ours, s_naive = min(t_ours), min(t_naive)
    result = {
        "setup": {**vars(args), "device": device_record("cpu").describe(),
                  "masked_fraction": float((labels != IGNORE).float().mean())},
        "ours_tokens_per_s": tokens / s_ours,
        "naive_tokens_per_s": tokens / s_naive,
        "speedup": s_naive / s_ours,
    }
    print(json.dumps(result, indent=2))
    print(f"KD step: ours {tokens / s_ours:.0f} tok/s, naive {tokens / s_naive:.0f} tok/s -> {s_naive / s_ours:.2f}x")


if __name__ == "__main__":
    main()
