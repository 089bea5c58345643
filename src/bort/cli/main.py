"""The ``bort`` console command: subcommands, and one-line errors for a user's mistakes.

Each subcommand module defines ``add_parser`` (its flags generated from its config dataclass) and
``run(config)``; this module parses, builds the config and turns a :class:`BortError` into one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from bort import __version__
from bort.errors import BortError
from bort.util.quiet import quiet_libraries

DESCRIPTION = """\
bort: make a small, fast BERT out of a big one (Optimal Subarchitecture Extraction for BERT).

  bort arch         exact parameter counts and FLOPs of ⟨D,A,H,I⟩ architectures
  bort search       FPTAS architecture search: W-coefficient ranking, Pareto front
  bort extract      a student cut out of its teacher, with its own weights (--task: of a fine-tuned one)
  bort pretrain     knowledge distillation from a teacher, or masked-LM pre-training
  bort finetune     fine-tuning on GLUE, SuperGLUE, RACE or your own files; --teacher: task distillation
  bort evaluate     official metrics and leaderboard submission files
  bort bench        latency side by side, every CPU path, each against this CPU's peak (roofline)
  bort export       the fastest faithful CPU path (--auto, --path), or one ONNX file
  bort pipeline     the whole job from one YAML file (teacher to served student), resumable
  bort quickstart   the whole pipeline on embedded real data, in minutes, on a laptop CPU

Run `bort COMMAND --help` for a command's options."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a mistake on the command line reported in one line (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"bort: error: {self.prog.removeprefix('bort ')}: {message}\n" if self.prog != "bort"
                  else f"bort: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from bort.cli import (
        arch_cmd,
        bench_cmd,
        evaluate_cmd,
        export_cmd,
        extract_cmd,
        finetune_cmd,
        pipeline_cmd,
        pretrain_cmd,
        quickstart_cmd,
        search_cmd,
    )

    parser = ArgumentParser(prog="bort", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"bort {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=ArgumentParser)
    for module in (arch_cmd, search_cmd, extract_cmd, pretrain_cmd, finetune_cmd, evaluate_cmd, bench_cmd, export_cmd,
                   pipeline_cmd, quickstart_cmd):
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Nothing here may reach a model hub: every model, tokenizer and dataset is a local directory.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    quiet_libraries()
    try:
        return int(args.run(args.config_class.from_args(args)) or 0)
    except BortError as exc:
        # One line, whatever the message: a user's mistake never shows a traceback.
        print("bort: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bort: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
