"""One definition per option: config dataclasses whose fields generate the command-line flags.

Every option of every command is a field of a config dataclass, made with :func:`option`: the
field's type annotation gives the flag's type, its default the flag's default, its metadata the
help text, group, choices and bounds (the pattern of Hugging Face's ``HfArgumentParser``).
:func:`add_options` turns a config class into argparse arguments and :meth:`Config.from_args`
reads them back; the base class also gives every config ``to_dict`` / ``from_dict`` /
``differences`` / ``save`` / ``load``, so that a run directory's JSON is read in one place.

Nothing here imports torch: the CLI builds its parsers from these classes before any model work.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import types
import typing
from pathlib import Path
from typing import Any, Callable

from bort.errors import BortError
from bort.util.io import write_json_atomic

_MISSING = dataclasses.MISSING


def option(default: Any = _MISSING, help: str = "", *, default_factory: Callable[[], Any] | None = None,
           group: str | None = None, choices: tuple | list | None = None, metavar: str | None = None,
           flag: str | None = None, positional: bool = False, parse: Callable[[str], Any] | None = None,
           nargs: str | None = None, minimum: float | None = None, above: float | None = None,
           resumable: bool = False, required: bool = False, show: str | None = None, last: bool = False) -> Any:
    """A config field that is also a command-line option.

    ``help``: the flag's help (the default is appended by the formatter). ``group``: the help
    section it is listed under. ``flag``: the flag's name when it is not ``--field-name``.
    ``positional``: an argument rather than a flag. ``parse``: turns the command-line string into
    the field's value (e.g. ``"4,8,1024,768"`` into a list). ``minimum`` / ``above``: inclusive /
    exclusive lower bounds, checked when the config is built. ``resumable``: the field may change
    when a run is resumed without changing its results (output locations, budgets, logging).
    ``required``: the flag must be given on the command line. ``show``: how ``--help`` prints the
    default, when ``str(default)`` would not read well. ``last``: listed after the other options in
    ``--help`` (options a config inherits from a mixin that matter to fewer runs).
    """
    metadata = dict(help=help, group=group, choices=choices, metavar=metavar, flag=flag, positional=positional,
                    parse=parse, nargs=nargs, minimum=minimum, above=above, resumable=resumable, required=required,
                    show=show, last=last)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def restart_option(group: str | None = None) -> Any:
    """``--restart``, the same for every command that makes a run directory. Without it, re-running a command
    with the same ``--out`` continues its run when the saved configuration matches and is refused when a
    setting that shapes the results changed; with it, the earlier run is deleted first. Resumable: it never
    counts as a changed setting."""
    return option(False, "start over: delete what --out holds from an earlier run of this command", group=group,
                  resumable=True)


def field_default(field: dataclasses.Field) -> Any:
    """The field's default value (a fresh one from its factory), or ``dataclasses.MISSING`` when it has none."""
    if field.default is not _MISSING:
        return field.default
    return field.default_factory() if field.default_factory is not _MISSING else _MISSING


def flag_name(field: dataclasses.Field) -> str:
    """``--batch-size`` for the field ``batch_size`` (or the field's own ``flag``)."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def base_type(annotation) -> tuple[type, bool]:
    """(the element or value type, whether it is a list) of a field annotation such as ``list[int] | None``."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"list": list, "dict": dict, "Any": Any}, {})  # noqa: S307 (our own annotations)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return base_type(args[0])
    if origin is list:
        return (args[0] if args else str), True
    return annotation, False


@dataclasses.dataclass
class Config:
    """Base of every run's configuration: bounds checked on construction, JSON round trips."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            low, above = f.metadata.get("minimum"), f.metadata.get("above")
            if value is None or isinstance(value, bool):
                continue
            # nan compares False with everything (it would slip past any bound) and inf is no setting a run can
            # reach: every numeric option, bounded or not, list or not, takes finite numbers only.
            for number in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(number, float) and not math.isfinite(number):
                    raise BortError(f"{flag_name(f)} must be a finite number, got {number}")
            if low is not None and value < low:
                raise BortError(f"{flag_name(f)} must be at least {low}, got {value}")
            if above is not None and value <= above:
                raise BortError(f"{flag_name(f)} must be greater than {above}, got {value}")
            choices = f.metadata.get("choices")
            if choices is not None and value not in choices:
                raise BortError(f"{flag_name(f)} must be one of {', '.join(map(str, choices))}; got {value!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        """A config from a saved dict; keys this version does not know are ignored."""
        fields = dataclasses.fields(cls)
        missing = [f.name for f in fields
                   if f.name not in data and f.default is _MISSING and f.default_factory is _MISSING]
        if missing:
            raise BortError(f"the saved configuration lacks {', '.join(missing)}")
        known = {f.name for f in fields}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        """The config a parser made by :func:`add_options` read from the command line."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)})

    def differences(self, other: "Config") -> list[str]:
        """Fields that differ and matter to the run's results (``resumable`` fields excluded)."""
        a, b = self.to_dict(), other.to_dict()
        return [f.name for f in dataclasses.fields(self)
                if a[f.name] != b[f.name] and not f.metadata.get("resumable")]

    def save(self, path: str | Path) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path):
        """The config saved at ``path``; a one-line error when the file is not such a config."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BortError(f"cannot read {path}: {exc}".splitlines()[0])
        if not isinstance(data, dict):
            raise BortError(f"{path} is not a saved configuration (expected a JSON object)")
        return cls.from_dict(data)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions kept as written; each option's default appended to its help, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = getattr(action, "default_text", None)
        # ``is`` rather than ``in``: a default of 0 equals False but is worth showing.
        if (shown is None and action.option_strings
                and not any(action.default is hidden for hidden in (None, False, argparse.SUPPRESS))):
            shown = str(action.default)
        if shown and "(default" not in text:
            text += f" (default: {shown})"
        return text.replace("%", "%%")


def _as_argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` with its BortError turned into argparse's own error (a usage line and exit status 2)."""

    def parse_argument(text: str) -> Any:
        try:
            return parse(text)
        except BortError as exc:
            raise argparse.ArgumentTypeError(str(exc))

    parse_argument.__name__ = parse.__name__
    return parse_argument


def add_options(parser: argparse.ArgumentParser, config_class: type[Config]) -> None:
    """One argument per field of ``config_class``, in groups, with the field's default, type and help."""
    groups: dict[str | None, Any] = {None: parser}
    for f in sorted(dataclasses.fields(config_class), key=lambda f: f.metadata.get("last", False)):
        meta = f.metadata
        if "help" not in meta:
            raise TypeError(f"{config_class.__name__}.{f.name} is not an option(): "
                            "every config field needs a help text")
        target = groups.get(meta["group"])
        if target is None:
            target = groups[meta["group"]] = parser.add_argument_group(meta["group"])
        value_type, is_list = base_type(f.type)
        default = field_default(f)
        default = None if default is _MISSING else default
        kwargs: dict[str, Any] = {"help": meta["help"], "default": default}
        if value_type is bool and not is_list:
            kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
        else:
            kwargs["type"] = _as_argument_type(meta["parse"]) if meta["parse"] else value_type
            if is_list and meta["parse"] is None:
                kwargs["nargs"] = meta["nargs"] or "+"
            elif meta["nargs"]:
                kwargs["nargs"] = meta["nargs"]
            if meta["choices"] is not None:
                kwargs["choices"] = meta["choices"]
            if meta["metavar"]:
                kwargs["metavar"] = meta["metavar"]
        if meta["positional"]:
            kwargs.pop("default") if f.default is _MISSING and f.default_factory is _MISSING else None
            action = target.add_argument(f.name, **kwargs)
        else:
            required = meta["required"] or (f.default is _MISSING and f.default_factory is _MISSING)
            action = target.add_argument(flag_name(f), dest=f.name, required=required, **kwargs)
        if meta["show"] is not None:
            action.default_text = meta["show"]
        elif isinstance(default, list):
            action.default_text = (",".join(map(str, default)) if meta["parse"]
                                   else " ".join(map(str, default))) or None


def command_line(command: str, cfg: Config) -> str:
    """The ``bort COMMAND ...`` line that makes ``cfg``: its positional arguments, then every option whose value
    differs from its default (or that the parser requires), each spelled as ``--help`` spells it."""
    positional, flags = [], []
    for f in sorted(dataclasses.fields(cfg), key=lambda f: f.metadata.get("last", False)):
        value, meta = getattr(cfg, f.name), f.metadata
        default = field_default(f)
        if meta.get("positional"):
            positional.append(str(value))
            continue
        if value == default and not meta.get("required"):
            continue
        flag = flag_name(f)
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (list, tuple)):
            # (an empty list is spelled "none" by the one parsed list that may be empty, --fast-paths)
            flags += [flag, ",".join(map(str, value)) or "none"] if meta.get("parse") else [flag, *map(str, value)]
        elif value is not None:
            flags += [flag, str(value)]
    return shlex.join(["bort", *command.split(), *positional, *flags])
