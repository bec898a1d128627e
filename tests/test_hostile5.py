"""Defects found by trying the sweep's one timing, calibration.json, paired_gains and the sound clip flags as a
hostile user would: each test failed before its fix."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image
from test_paired_gains import results


def test_a_large_target_draws_a_few_round_ticks_in_time(tmp_path):
    """--target 1000 drew 10,000 tick labels over each other (2 s) and --target 1e5 never finished: the ticks
    stepped by 0.1 whatever the span."""
    pre = results(tmp_path / "p.json", {"fold1": 0.75, "fold2": 0.5})
    base = results(tmp_path / "s.json", {"fold1": 0.5, "fold2": 0.5})
    png = tmp_path / "g.png"
    argv = ["--pair", "x", pre, base, "--target", "100000", "--out", str(png)]
    done = subprocess.run([sys.executable, "-m", "synpat.audio.paired_gains", *argv], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    img = Image.open(png).convert("RGB")
    # the grid lines are light grey rows across the plot: a handful, not one per pixel row
    grid = [y for y in range(img.height) if img.getpixel((img.width // 2 + 60, y)) == (225, 225, 225)]
    assert 2 <= len(grid) <= 30, len(grid)
