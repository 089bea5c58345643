"""Each option is defined once: every config field is a flag of its command, every flag a config field."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass

import pytest

from bort.cli.main import build_parser, main
from bort.config import Config, HelpFormatter, add_options, option, restart_option
from bort.errors import BortError


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


@pytest.mark.parametrize("command", sorted(subcommand_parsers()))
def test_every_field_is_a_flag_and_every_flag_a_field(command):
    sub = subcommand_parsers()[command]
    config_class = sub.get_default("config_class")
    assert config_class is not None and issubclass(config_class, Config), f"bort {command} has no config class"
    dests = {a.dest for a in sub._actions if not isinstance(a, argparse._HelpAction)}
    fields = {f.name for f in dataclasses.fields(config_class)}
    assert dests == fields, f"flags without a field: {dests - fields}; fields without a flag: {fields - dests}"
    # The flag's default is the field's default: one definition, read back unchanged.
    for f in dataclasses.fields(config_class):
        if f.default is not dataclasses.MISSING:
            assert sub.get_default(f.name) == f.default, f"bort {command} {f.name}"


@pytest.mark.parametrize("command", sorted(subcommand_parsers()))
def test_help_shows_each_default_once(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.count("(default: (default") == 0
    sub = subcommand_parsers()[command]
    for f in dataclasses.fields(sub.get_default("config_class")):
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool) and not f.metadata["positional"]:
            flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
            # argparse wraps lines; collapse whitespace before looking for the flag's default.
            flat = " ".join(text.split())
            shown = f.metadata["show"] or f.default  # a default declared with how to print it (2/3)
            assert f"(default: {shown})" in flat, f"bort {command} {flag}: default {shown} not shown"


@dataclass(kw_only=True)
class Toy(Config):
    name: str = option(help="required")
    steps: int = option(3, "steps", minimum=1)
    rate: float = option(0.5, "rate", above=0)
    kind: str = option("a", "kind", choices=("a", "b"))
    sizes: list[int] = option(help="sizes", default_factory=lambda: [1, 2])
    out: str = option("x", "where", resumable=True)
    weight: float = option(0.0, "a number without bounds")
    scales: list[float] = option(help="numbers", default_factory=lambda: [1.0])


def toy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    add_options(parser, Toy)
    return parser


def test_flags_parse_into_the_config_and_round_trip(tmp_path):
    cfg = Toy.from_args(toy_parser().parse_args(["--name", "n", "--steps", "7", "--sizes", "4", "5", "--kind", "b"]))
    assert cfg == Toy(name="n", steps=7, sizes=[4, 5], kind="b")
    assert Toy.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert Toy.load(cfg.save(tmp_path / "c.json")) == cfg


def test_differences_ignore_resumable_fields():
    a = Toy(name="n")
    assert a.differences(Toy(name="n", out="elsewhere")) == []
    assert a.differences(Toy(name="n", steps=4, rate=0.25)) == ["steps", "rate"]


def test_every_command_that_makes_a_run_directory_has_the_one_restart_option():
    """--restart is defined once (restart_option) and never counts as a changed setting; --resume is gone."""
    expected = restart_option()
    for command, sub in subcommand_parsers().items():
        fields = {f.name: f for f in dataclasses.fields(sub.get_default("config_class"))}
        assert "resume" not in fields, command
        if command in ("search", "extract", "pretrain", "finetune", "export"):
            meta = fields["restart"].metadata
            assert (meta["help"], meta["resumable"], fields["restart"].default) \
                == (expected.metadata["help"], True, False)


@pytest.mark.parametrize("values, message", [
    (dict(steps=0), "--steps must be at least 1"), (dict(rate=0.0), "--rate must be greater than 0"),
    (dict(kind="c"), "--kind"), (dict(rate=float("nan")), "--rate must be a finite number, got nan"),
    (dict(weight=float("inf")), "--weight must be a finite number, got inf"),
    (dict(scales=[1.0, float("nan")]), "--scales must be a finite number, got nan"),
])
def test_bounds_and_choices_are_checked_when_built(values, message):
    with pytest.raises(BortError, match=message):
        Toy(name="n", **values)


def test_a_saved_config_missing_a_required_key_or_not_an_object_is_a_one_line_error(tmp_path):
    assert Toy.from_dict({"name": "n", "from_a_later_version": 1}) == Toy(name="n")
    with pytest.raises(BortError, match="lacks name"):
        Toy.from_dict({"steps": 2})
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(BortError, match="bad.json"):
        Toy.load(tmp_path / "bad.json")


def test_command_line_spells_a_config_as_the_parser_reads_it():
    """The command a pipeline stage or a model card records parses back to the same config."""
    from bort.config import command_line
    from bort.search.config import SearchConfig

    cfg = SearchConfig(teacher="t", corpus=["a b.txt", "c"], out="o", steps=5, init="extract", all_positions=True,
                       latency_threads=2)
    line = command_line("search", cfg)
    assert line.startswith("bort search ") and "'a b.txt'" in line
    import shlex

    args = build_parser().parse_args(shlex.split(line)[1:])
    assert SearchConfig.from_args(args) == cfg
