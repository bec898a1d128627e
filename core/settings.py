"""The one way every synpat command declares and reads its settings, and a user's mistake as one
line on stderr with exit status 2.

A command's settings are a dataclass whose fields are made with ``option(default, help)``; it is
the one source of defaults and help texts, and its module has one ``validate(cfg)`` for ranges and
relations. ``settings_parser`` builds the command line from the class; ``parse_settings`` layers on
the defaults: a JSON or YAML ``--config`` file, then ``--set key=value`` (repeatable), then one
``--key value`` flag per field (``--flag/--no-flag`` for booleans). A field made with
``option(..., positional=True)`` is a positional argument instead of a flag; a tuple field takes
several values (``nargs``; "a,b" in ``--set``; a list in a file). Unknown keys and ill-typed values
are UserErrors. Settings are never read from environment variables, except the launchers' RANK,
WORLD_SIZE, LOCAL_RANK (core.ranks, core.devices) and the documented SYNPAT_CACHE (gen.check_cache).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, field, fields
from pathlib import Path
from typing import NoReturn

from synpat.core.errors import UserError

_NUMBER = r"-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?"
_NUMBERS = re.compile(rf"^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?(,{_NUMBER})*$", re.I)  # -5 -.5 -1e3 -5,10 -5,-1


class Parser(argparse.ArgumentParser):
    """argparse that raises UserError instead of printing usage and exiting, so every CLI error is one line.
    A value that starts with a negative number (``--snr-db -5,10``, ``--x -1e3``) is a value, not an
    option, as argparse already takes ``-5`` (and would take ``--snr-db=-5,10``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NUMBERS  # what argparse asks "does this look like a negative number?"

    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def run_cli(prog: str, body: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None) -> int:
    """Run `body(argv)`; a UserError becomes `prog: error: message` on stderr and exit status 2, Ctrl-C one line and 130."""
    try:
        body(argv)
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, as synpat-gen says it, not a traceback
        print(
            f"{prog}: interrupted; complete outputs are kept (a resumable run continues with --resume)", file=sys.stderr
        )
        return 130
    return 0


def option(default, help: str, *, positional: bool = False, shown: Callable | None = None, **cli):
    """A settings field with its help text; ``positional``: a positional argument instead of a --flag.
    A tuple default (of str) makes a field of several values. ``shown``: the default as a user types it
    (the inverse of its ``type``), where ``shown_default``'s rule does not give that. ``cli``: argparse
    keywords (type, choices, metavar, nargs, default) for the parsers ``add_options`` builds; a list or
    dict default is copied per instance."""
    metadata = {
        "help": help,
        "positional": positional,
        **({"shown": shown} if shown else {}),
        **({"cli": cli} if cli else {}),
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def shown_default(f, several: bool) -> str:
    """The default of field ``f`` as a user types it on the command line, for its help: its option's
    ``shown`` of it; else the items of a tuple or list, separated by spaces when the option takes several
    values (``several``: nargs) or joined by ',' when one value holds them (``--time-range 0.1,10.0``);
    else str() of it."""
    default = f.default_factory() if f.default is MISSING else f.default
    if "shown" in f.metadata:
        return f.metadata["shown"](default)
    if isinstance(default, (tuple, list)):
        return (" " if several else ",").join(map(str, default))
    return str(default)


def help_text(f, several: bool) -> str:
    """Field ``f``'s help with its default as typed (none for an empty default), escaped for argparse."""
    default = shown_default(f, several)
    text = f"{f.metadata['help']} (default: {default})" if default else f.metadata["help"]
    return text.replace("%", "%%")  # argparse formats help with %


def coerce(name: str, value, default):
    """A config-file value (JSON/YAML type) or a command-line string -> the field's type, or UserError."""
    kind = type(default)
    if kind is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise UserError(f"bad config value {name}={value!r}: not a list of strings")
        return tuple(v for v in items if v)
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
        else:
            try:
                return _finite(name, kind(text))
            except ValueError:
                pass
        raise UserError(f"bad config value {name}={value!r}: not a {kind.__name__}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"bad config value {name}={value!r}: not a {kind.__name__}")
    return _finite(name, value)


def _finite(name: str, value):
    """Every number setting is finite: inf or nan would only fail later, far from the cause."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"bad config value {name}={value!r}: not a finite number")
    return value


def check_keys(cls, keys, where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise UserError(
            f"{where}: unknown config key(s) {', '.join(map(repr, unknown))} (known: {', '.join(sorted(known))})"
        )


def check_ranges(cfg, positive: Sequence[str] = (), non_negative: Sequence[str] = ()) -> None:
    """UserError for the first named field that is not a finite number > 0 (positive) or >= 0 (non_negative)."""
    for names, ok, why in (
        (positive, lambda v: v > 0, "must be > 0"),
        (non_negative, lambda v: v >= 0, "must be >= 0"),
    ):
        for name in names:
            value = getattr(cfg, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"bad config value {name}={value!r}: must be a finite number")
            if not ok(value):
                raise UserError(f"bad config value {name}={getattr(cfg, name)!r}: {why}")


def read_config_file(cls, path: str | Path) -> dict:
    """A JSON (.json) or YAML (.yaml/.yml) mapping of ``cls`` field names -> their values (typed)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"config file {path}: not UTF-8 text (byte {err.start}); expected JSON or YAML") from None
    except OSError as err:
        raise UserError(f"config file {path}: cannot read ({err.strerror})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UserError(f"config file {path}: invalid YAML ({str(err).splitlines()[0]})") from None
    else:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"config file {path}: invalid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise UserError(f"config file {path}: expected a mapping of config keys")
    check_keys(cls, obj, f"config file {path}")
    defaults = asdict(cls())
    return {k: coerce(k, v, defaults[k]) for k, v in obj.items()}


def settings_parser(cls, prog: str, description: str) -> Parser:
    """--config, --set KEY=VALUE and one flag per field of ``cls`` (dashes or underscores)."""
    parser = Parser(prog=prog, allow_abbrev=False, description=description)
    add_settings(parser, cls)
    return parser


def add_settings(parser: argparse.ArgumentParser, cls) -> None:
    """Add --config, --set and the arguments of ``cls``'s fields to ``parser`` (a parser or a sub-command's)."""
    parser.add_argument("--config", help="JSON or YAML file of settings (overridden by --set, then by flags)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    for f in fields(cls):
        many = isinstance(f.default, tuple)
        text = help_text(f, many)
        if f.metadata.get("positional"):
            parser.add_argument(f.name, nargs="*" if many else "?", default=None, help=text)
            continue
        names = sorted({"--" + f.name, "--" + f.name.replace("_", "-")})
        if isinstance(f.default, bool):
            parser.add_argument(*names, dest=f.name, default=None, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(
                *names, dest=f.name, default=None, nargs="+" if many else None, metavar="VALUE", help=text
            )


def parse_settings(cls, argv: Sequence[str] | None, parser: argparse.ArgumentParser):
    """Defaults of ``cls`` <- --config file <- --set <- flags (not yet range-checked)."""
    return settings_from_args(cls, vars(parser.parse_args(argv)))


def settings_from_args(cls, args: dict):
    """``cls`` from parsed arguments (add_settings'): defaults <- --config file <- --set <- flags."""
    values = read_config_file(cls, args["config"]) if args["config"] else {}
    defaults = asdict(cls())
    overrides = {}
    for item in args["set"]:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip().replace("-", "_")] = value
    check_keys(cls, overrides, "--set")
    overrides.update({k: v for k, v in args.items() if k in defaults and v is not None and v != []})
    values.update({k: coerce(k, v, defaults[k]) for k, v in overrides.items()})
    return cls(**values)


def add_options(parser, cls, names: Sequence[str]) -> None:
    """One ``--name`` flag per named field of ``cls`` on ``parser`` (or an argument group): help (with
    the default as typed: help_text) and argparse keywords from its ``option``; a False boolean is a
    switch (store_true)."""
    by_name = {f.name: f for f in fields(cls)}
    for name in names:
        f = by_name[name]
        cli = dict(f.metadata.get("cli", {}))
        default = f.default_factory() if f.default is MISSING else f.default
        flag = "--" + name.replace("_", "-")
        text = help_text(f, "nargs" in cli)
        if default is False and not cli:
            parser.add_argument(flag, action="store_true", help=text)
        else:
            parser.add_argument(flag, **{"default": default, "help": text, **cli})
