"""``bort pipeline CONFIG.yaml``: the whole job from one file, each stage in its own folder, resumable."""

from __future__ import annotations

from dataclasses import dataclass

from bort.config import Config, HelpFormatter, add_options, option, restart_option

DESCRIPTION = """\
Runs, from one YAML file, what the commands do one by one: give the teacher a masked-LM head
(teacher_mlm), search the architecture (search), cut the student out of the teacher (extract),
distil it (distil), fine-tune it on each task — yours (task: custom, with train/dev/test files and
column names) or a benchmark's — plainly or with Agora, beside the teacher fine-tuned the same way
(tasks), serve it (export) and time it against the teacher (bench). Each section's keys are its
command's options (`bort COMMAND --help`, with _ for -); a section left out, or with enabled: false,
is switched off. Example:

  out: runs/my-student
  teacher: runs/models/all-MiniLM-L6-v2
  corpus: [my-corpus.jsonl]
  text_field: text
  teacher_mlm: {max_steps: 100, seq_len: 64}
  search: {space: minilm, init: extract, steps: 10}
  extract: {}
  distil: {max_steps: 300, hidden_weight: 1.0}
  tasks:
    - {name: tickets, task: custom, train: train.csv, dev: dev.csv, text_column: body,
       label_column: team}
  export: {}
  bench: {lengths: [128]}

Each stage writes under OUT/<stage>; pipeline_state.json records each stage's settings and input
files. A re-run reuses every finished stage whose settings and input files are unchanged, continues
an interrupted one, and starts over from the first stage that changed (and every stage after it).
--dry-run prints what would be reused or run, and each stage's equivalent command. At the end,
OUT/report.md (and pipeline.png): the chosen architecture, its size and measured speed against the
teacher, each task's score against the teacher's, and where every artefact is."""


@dataclass(kw_only=True)
class PipelineArgs(Config):
    config: str = option(help="the pipeline's YAML file", positional=True, metavar="CONFIG.yaml")
    dry_run: bool = option(False, "print the stages, what would be reused, and the command each corresponds to; run "
                           "nothing")
    restart: bool = restart_option()  # every stage started over


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("pipeline", help="the whole job from one config file, resumable",
                              description=DESCRIPTION, formatter_class=HelpFormatter)
    add_options(p, PipelineArgs)
    p.set_defaults(run=run, config_class=PipelineArgs)


def run(args: PipelineArgs) -> int:
    from bort.pipeline.runner import run_pipeline

    state = run_pipeline(args.config, dry_run=args.dry_run, restart=args.restart,
                         show=lambda line: print(line, flush=True))
    if not args.dry_run and "report" in state:
        print(f"pipeline finished in {state['seconds']:.0f} s; report: {state['report']}")
    return 0
