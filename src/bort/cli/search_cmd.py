"""``bort search``: the FPTAS over ⟨D,A,H,I⟩ against a teacher, on this device."""

from __future__ import annotations

import argparse

from bort.search.config import LATENCY_SOURCES, SearchConfig
from bort.search.spaces import PRESETS

DESCRIPTION = f"""\
The FPTAS for optimal subarchitecture extraction (de Wynter 2020; SPEC §3). The space's valid
⟨D,A,H,I⟩ tuples are sorted by parameter count and every ε-th is kept. For each: p is counted
exactly; î is measured on this device (median of repeats after warm-up, serially, before any
training, the same protocol as for the teacher T); a freshly initialised model is trained for s SGD
steps on fixed batches against the teacher's temperature-softened MLM distribution, and ê is that
cross-entropy on fixed held-out batches. W = (1 − p/p(T))·(1 − î/î(T))/ê ranks them (candidates as
big or as slow as T get W ≤ 0); the Pareto front over (p, î, ê) is marked.

The teacher runs once over the fixed batches; its outputs are cached for every candidate.
Candidates train in parallel (--workers N local processes, or --ray local / --ray ADDRESS);
each finished one is appended to candidates.jsonl, and running again into the same --out resumes.

Spaces: {', '.join(f'{k} ({len(v.candidates())} tuples)' for k, v in PRESETS.items())}, or a YAML/JSON
file with depths, heads, hiddens, intermediates (and even_depth).

On a cluster: start Ray on every node (`ray start --head --node-ip-address HEAD_IP` on one,
`ray start --address HEAD_IP:6379` on the others), then run `bort search ... --ray HEAD_IP:6379`
on the head node; latency is measured on the machine that runs `bort search`.

Writes to --out: search_config.json, latency.jsonl, candidates.jsonl, ranking.csv, pareto.png,
best/config.json (pre-train it with `bort pretrain --config`), report.md."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("search", help="FPTAS architecture search (W-coefficient, Pareto front)",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SearchConfig.__dataclass_fields__
    p.add_argument("--teacher", required=True, metavar="TEACHER_DIR", help="a local HF masked-LM directory (T)")
    p.add_argument("--corpus", nargs="+", required=True, metavar="PATH", help="text files, folders or globs")
    p.add_argument("--out", required=True, help="the run directory (running again resumes)")
    p.add_argument("--space", default="cpu-small", help="a preset or a YAML/JSON file (default: cpu-small)")
    p.add_argument("--resume", action="store_true", help="resume (the default whenever --out holds a search)")
    g = p.add_argument_group("the FPTAS")
    g.add_argument("--steps", type=int, default=d["steps"].default, help="s, SGD steps per candidate (default: 3)")
    g.add_argument("--epsilon", type=int, default=1, help="keep every ε-th candidate (default: 1, all)")
    g.add_argument("--lr", type=float, default=d["lr"].default, help="SGD learning rate (default: 0.01)")
    g.add_argument("--batch-size", type=int, default=d["batch_size"].default, help="sequences per batch (default: 8)")
    g.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping, 0 for none (default: 1.0)")
    g.add_argument("--warmup", type=int, default=0, help="linear warm-up steps within the s (default: 0)")
    g.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of both sides (default: 1.0)")
    g.add_argument("--all-positions", action="store_true", help="the loss over every token, not only the masked ones")
    g.add_argument("--seq-len", type=int, default=d["seq_len"].default, help="training sequence length (default: 512)")
    g.add_argument("--val-batches", type=int, default=d["val_batches"].default, help="held-out batches for ê (default: 4)")
    g = p.add_argument_group("latency protocol")
    g.add_argument("--latency", choices=LATENCY_SOURCES, default="measured",
                   help="measured on this device, or Lemma 1's FLOPs (deterministic) (default: measured)")
    g.add_argument("--latency-device", default="cpu", help="cpu or cuda (default: cpu)")
    g.add_argument("--latency-batch", type=int, default=1, help="batch size (default: 1)")
    g.add_argument("--latency-seq-len", type=int, default=128, help="tokens (default: 128)")
    g.add_argument("--latency-threads", type=int, help="threads (default: all cores torch sees)")
    g.add_argument("--latency-repeats", type=int, default=5, help="timed runs (default: 5)")
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=int, default=1, help="parallel candidate trainings (default: 1)")
    g.add_argument("--ray", metavar="ADDRESS", help="'local' (a private Ray on loopback) or a cluster address")
    g.add_argument("--threads-per-worker", type=int, help="torch threads in each worker")
    g.add_argument("--seed", type=int, default=0, help="seed for batches, masks and initialisations (default: 0)")
    g.add_argument("--cache-dir", help="tokenization cache (default: RUN_DIR/token_cache)")
    p.set_defaults(run=run)


def run(args) -> int:
    from bort.search.runner import search

    fields = SearchConfig.__dataclass_fields__
    cfg = SearchConfig(**{k: v for k, v in vars(args).items() if k in fields})
    summary = search(cfg)
    best = summary["best"]
    print(f"best architecture ⟨{','.join(map(str, best['arch']))}⟩: W = {best['W']:.4g}, p = {best['p'] / 1e6:.2f}M, "
          f"î = {best['i']:.4g} {summary['latency_unit']}, ê = {best['e']:.4f}")
    print(f"search took {summary['total_seconds']:.0f} s (teacher {summary['teacher_seconds']:.1f} s, latency "
          f"{summary['latency_seconds']:.1f} s, training {summary['training_seconds']:.1f} s); see {cfg.out}/report.md")
    return 0
