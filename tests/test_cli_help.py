"""Every console script answers --help with its usage and exit status 0 (a help text with a
'%' in it once crashed argparse's formatting), and shows each default as a user types it (tuples
were shown as Python wrote them: `(default: (224, 224))`)."""

import re
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import tomllib
from synpat.core.settings import option, parse_settings, settings_parser

SCRIPTS = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
PYTHON_LITERAL = re.compile(r"\(default:? [(\[{']")  # a tuple, list, dict or quoted string as Python prints it


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help_prints_usage(name):
    module, func = SCRIPTS[name].split(":")
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; from {module} import {func}; sys.exit({func}(['--help']))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage: ") and "Traceback" not in proc.stderr
    text = " ".join(proc.stdout.split())
    assert not PYTHON_LITERAL.search(text), PYTHON_LITERAL.search(text).group()


@dataclass
class Toy:
    tags: tuple[str, ...] = option(("a", "b"), "several values")


def test_defaults_are_shown_as_typed_and_parse_back():
    from synpat.core.settings import shown_default
    from synpat.gen.cli import build_parser
    from synpat.gen.generate import GenConfig

    text = " ".join(build_parser().format_help().split())
    assert "--size SIZE N or WxH pixels (default: 224x224)" in text
    assert "--time-range TIME_RANGE iTime range MIN,MAX (default: 0.1,10.0)" in text
    for f in fields(GenConfig):  # each tuple default shown is what its option's parser turns into that default
        cli = f.metadata.get("cli", {})
        if isinstance(f.default, tuple) and "type" in cli:
            assert cli["type"](shown_default(f, False)) == f.default, f.name
    # settings' tuples take several values after the flag: shown separated by spaces
    toy = " ".join(settings_parser(Toy, "toy", "a toy").format_help().split())
    assert "several values (default: a b)" in toy
    assert parse_settings(Toy, ["--tags", *"a b".split()], settings_parser(Toy, "toy", "")).tags == ("a", "b")
