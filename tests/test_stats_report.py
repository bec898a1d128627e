"""synpat-stats: the report from programs and from shards, every file checked."""

import csv
import json
import subprocess
import sys

import numpy as np
from conftest import run_gen
from PIL import Image

FAMILIES = ["cellular", "interference", "procedural_noise"]  # of voronoi, waves, fbm


def run_stats(*args):
    return subprocess.run(
        [sys.executable, "-m", "synpat.gen.stats_report", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def check_report(out, images_per_program):
    files = sorted(p.name for p in out.iterdir())
    hist = [f"hist_{k}.png" for k in ("brightness_entropy", "colour_entropy", "edge_density", "std", "total_variation")]
    assert files == sorted(
        [f"contact_{f}.png" for f in FAMILIES]
        + hist
        + ["families.csv", "families.json", "programs.csv", "programs.json", "scatter_tv_brightness.png"]
    )
    programs = json.loads((out / "programs.json").read_text())
    assert [(p["program"], p["family"]) for p in programs] == [
        ("voronoi", "cellular"),
        ("waves", "interference"),
        ("fbm", "procedural_noise"),
    ]
    assert all(p["images"] == images_per_program for p in programs)
    assert all(0 < p["total_variation_mean"] < 1 and 0 < p["brightness_entropy_mean"] <= 8 for p in programs)
    rows = list(csv.DictReader((out / "families.csv").open()))
    assert [r["family"] for r in rows] == FAMILIES and all(r["programs"] == "1" for r in rows)
    fam = {r["family"]: r for r in json.loads((out / "families.json").read_text())}
    assert (
        fam["cellular"]["edge_density_mean"]
        == next(p for p in programs if p["family"] == "cellular")["edge_density_mean"]
    )
    for name in files:
        if name.endswith(".png"):
            pixels = np.asarray(Image.open(out / name).convert("RGB"))
            assert pixels.std() > 10, name  # not a blank picture
    scatter = np.asarray(Image.open(out / "scatter_tv_brightness.png").convert("RGB")).reshape(-1, 3)
    assert len(np.unique(scatter, axis=0)) >= 5  # axes, text and 3 family colours


def test_report_from_programs(small_shaders, tmp_path):
    out = tmp_path / "report"
    proc = run_stats(small_shaders, "--out", out, "--per-program", 6, "--size", 32)
    assert proc.returncode == 0, proc.stderr
    assert "18 images of 3 programs in 3 families" in proc.stderr.splitlines()[-1]
    check_report(out, 6)


def test_report_from_shards_with_and_without_stored_stats(small_shaders, tmp_path):
    for flag in ("--stats", None):
        shards = tmp_path / f"shards{flag}"
        proc = run_gen(
            "--shaders",
            small_shaders,
            "--out",
            shards,
            "--count",
            24,
            "--size",
            32,
            "--shard-size",
            10,
            "--format",
            "png",
            *([flag] if flag else []),
        )
        assert proc.returncode == 0, proc.stderr
        proc = run_stats(shards, "--out", tmp_path / f"report{flag}")
        assert proc.returncode == 0, proc.stderr
        check_report(tmp_path / f"report{flag}", 8)
    # stored statistics (of the rendered pixels) and recomputed ones (of the PNGs, lossless) agree
    a = json.loads((tmp_path / "report--stats" / "programs.json").read_text())
    b = json.loads((tmp_path / "reportNone" / "programs.json").read_text())
    for x, y in zip(a, b):
        for k in x:
            assert x[k] == y[k] if isinstance(x[k], str) else abs(x[k] - y[k]) < 1e-4, k


def test_bad_input_is_one_line(tmp_path):
    proc = run_stats(tmp_path / "missing", "--out", tmp_path / "r")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"synpat-stats: error: {tmp_path / 'missing'}: no such shard or program folder or file"
    ]
