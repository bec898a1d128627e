"""Shared fixtures: the bundled programs, a small program folder, and a synpat-gen runner."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synpat.gen.programs import bundled_shaders_dir, find_programs

REPO = Path(__file__).resolve().parents[1]
SMALL_SET = ("fbm", "voronoi", "waves")  # cheap on llvmpipe, three different families


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


# A runaway loop: days of work for one probe image on a CPU, hours on a GPU; the checks must kill it.
HANG = (
    """float f(float x) { return fract(sin(x * 12.9898) * 43758.5453 + cos(x + iTime)); }
void mainImage(out vec4 o, in vec2 u) {
  float x = u.x;
  for (int i = 0; i < 2000000000; i++) { x = """
    + "f(" * 32
    + "x + float(i)"
    + ")" * 32
    + """; }
  o = vec4(x);
}
"""
)


def gen_command(script: Path | None = None) -> list[str]:
    """synpat-gen, or a test script that runs it (tests/gen_torch_cpu.py)."""
    return [sys.executable, str(script)] if script else [sys.executable, "-m", "synpat.gen.cli"]


def run_gen(*args, env=None, cwd=None, script: Path | None = None) -> subprocess.CompletedProcess:
    """synpat-gen in a subprocess: exit status, stdout and stderr as a user sees them."""
    return subprocess.run(
        [*gen_command(script), *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def kill_gen(out: Path, shards: int, *args, env=None, script: Path | None = None) -> int:
    """synpat-gen writing into ``out``, killed by SIGKILL as soon as ``shards`` tars are there (it may
    have finished a few more by then) -> its exit status."""
    proc = subprocess.Popen(
        [*gen_command(script), "--out", str(out), *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    while proc.poll() is None:
        if out.is_dir() and sum(p.suffix == ".tar" for p in out.iterdir()) >= shards:
            proc.kill()
            break
        time.sleep(0.001)
    return proc.wait(timeout=600)


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
        if item.get_closest_marker("gpu"):  # not `"gpu" in item.keywords`: that matches a folder named gpu
            item.add_marker(skip)
