"""Fixtures of the hostile tests: a folder that truly cannot be written (a read-only tmpfs when
running as root, who ignores permissions; else a folder without write permission)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def read_only_dir(tmp_path) -> Path:
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("root here cannot mount a read-only tmpfs, and ignores folder permissions")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
