"""Every console script answers --help with its usage and exit status 0 (a help text with a
'%' in it once crashed argparse's formatting)."""

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

SCRIPTS = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]


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
