"""``bort search``: the FPTAS over ⟨D,A,H,I⟩ against a teacher, on this device."""

from __future__ import annotations

from bort.config import HelpFormatter, add_options
from bort.search.config import SearchConfig
from bort.search.spaces import PRESETS

DESCRIPTION = f"""\
The FPTAS for optimal subarchitecture extraction (de Wynter 2020; the paper's Section 3). The
space's valid ⟨D,A,H,I⟩ tuples are sorted by parameter count and every ε-th is kept. For each: p
is counted exactly; î is measured on this device (median of repeats after warm-up, serially,
before any training, the same protocol as for the teacher T); a freshly initialised model is
trained for s SGD steps on fixed batches against the teacher's temperature-softened MLM
distribution, and ê is that cross-entropy on fixed held-out batches. \
W = (1 − p/p(T))·(1 − î/î(T))/ê ranks them (candidates as
big or as slow as T get W ≤ 0); the Pareto front over (p, î, ê) is marked.

The teacher runs once over the fixed batches; its outputs are cached for every candidate.
Candidates train in parallel (--workers N local processes, or --ray local / --ray ADDRESS);
each finished one is appended to candidates.jsonl, and re-running the same command continues an
interrupted search without redoing what is finished (--restart starts over).

Spaces: {', '.join(f'{k} ({len(v.candidates())} tuples)' for k, v in PRESETS.items())}, or a YAML/JSON
file with depths, heads, hiddens, intermediates (and even_depth).

On a cluster: start Ray on every node (`ray start --head --node-ip-address HEAD_IP` on one,
`ray start --address HEAD_IP:6379` on the others), then run `bort search ... --ray HEAD_IP:6379`
on the head node; latency is measured on the machine that runs `bort search`.

Writes to --out: search_config.json, latency.jsonl, candidates.jsonl, ranking.csv, pareto.png,
best/config.json (pre-train it with `bort pretrain --config`), report.md."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("search", help="FPTAS architecture search (W-coefficient, Pareto front)",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, SearchConfig)
    p.set_defaults(run=run, config_class=SearchConfig)


def run(cfg: SearchConfig) -> int:
    from bort.search.runner import search

    summary = search(cfg)
    best = summary["best"]
    print(f"best architecture ⟨{','.join(map(str, best['arch']))}⟩: W = {best['W']:.4g}, p = {best['p'] / 1e6:.2f}M, "
          f"î = {best['latency']:.4g} {summary['latency_unit']}, ê = {best['error']:.4f}")
    print(f"search took {summary['total_seconds']:.0f} s (teacher {summary['teacher_seconds']:.1f} s, latency "
          f"{summary['latency_seconds']:.1f} s, training {summary['training_seconds']:.1f} s); see {cfg.out}/report.md")
    return 0
