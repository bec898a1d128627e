"""Shared fixtures: the bundled programs, a small program folder, and a synpat-gen runner."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synpat.gen.programs import bundled_shaders_dir, find_programs

REPO = Path(__file__).resolve().parents[1]
SMALL_SET = ("fbm", "voronoi", "waves")   # cheap on llvmpipe, three different families


@pytest.fixture(scope="session")
def bundled_programs():
    return find_programs([bundled_shaders_dir()])


@pytest.fixture
def small_shaders(tmp_path) -> Path:
    folder = tmp_path / "shaders"
    folder.mkdir()
    for name in SMALL_SET:
        shutil.copy(bundled_shaders_dir() / f"{name}.glsl", folder)
    return folder


def run_gen(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    """synpat-gen in a subprocess: exit status, stdout and stderr as a user sees them."""
    return subprocess.run([sys.executable, "-m", "synpat.gen.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(autouse=True)
def check_cache_folder(tmp_path_factory, monkeypatch) -> Path:
    """A fresh program-check cache per test (SYNPAT_CACHE, inherited by the CLIs a test runs)."""
    folder = tmp_path_factory.mktemp("synpat-cache")
    monkeypatch.setenv("SYNPAT_CACHE", str(folder))
    return folder


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA and the NVIDIA driver: skipped on machines without them (CI)."""
    from synpat.core.devices import gpu_present
    if gpu_present():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("gpu"):   # not `"gpu" in item.keywords`: that matches a folder named gpu
            item.add_marker(skip)
