"""synpat-gen end to end: real renders, real tars read back by webdataset, resume, ranks, bad input."""

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import webdataset as wds
from conftest import HANG, kill_gen, run_gen
from synpat.gen.programs import find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

COMMON = ("--size", "32", "--shard-size", "20", "--seed", "7")


def tars(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


def one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_shards_read_back_with_webdataset_and_dali_index(small_shaders, tmp_path):
    out = tmp_path / "out"
    proc = run_gen("--shaders", small_shaders, "--out", out, "--count", 50, *COMMON)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 50 images in 3 shards" in proc.stderr.splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"] + [
        f"synpat-00000{i}.{e}" for i in range(3) for e in ("idx", "tar")
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    names = [p["name"] for p in manifest["programs"]]
    assert names == ["fbm", "voronoi", "waves"] and manifest["rejected"] == []
    assert manifest["shards"] == {"total": 3, "complete": [f"synpat-00000{i}" for i in range(3)]}

    ds = wds.WebDataset(str(out / "synpat-{000000..000002}.tar"), shardshuffle=False).decode("rgb8")
    samples = list(ds)
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(50)]
    counts = np.bincount([int(s["cls"]) for s in samples])
    assert counts.min() >= 16 and counts.max() <= 17  # balanced over 3 programs
    for s in samples:
        assert s["jpg"].shape == (32, 32, 3) and s["jpg"].std() > 3
        meta = s["json"]
        assert meta["class"] == int(s["cls"]) and names[meta["class"]] == meta["program"]
        assert 0.1 <= meta["time"] < 10 and len(meta["params"]) == 4 and meta["size"] == [32, 32]

    for i in range(3):  # the .idx: "v1.2 N" then "ext offset size name" per file, offsets at the data
        lines = (out / f"synpat-00000{i}.idx").read_text().splitlines()
        data = (out / f"synpat-00000{i}.tar").read_bytes()
        with tarfile.open(out / f"synpat-00000{i}.tar") as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        assert lines[0] == f"v1.2 {len(lines) - 1}" and len(lines) - 1 == (20 if i < 2 else 10)
        for line in lines[1:]:
            fields = line.split()
            assert len(fields) == 12
            for ext, offset, size, name in zip(*[iter(fields)] * 4):
                assert name.endswith("." + ext) and data[int(offset) : int(offset) + int(size)] == members[name]


def test_same_arguments_same_bytes_and_formats(small_shaders, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run_gen("--shaders", small_shaders, "--out", out, "--count", 30, *COMMON).returncode == 0
    assert tars(a) == tars(b) and len(tars(a)) == 2
    png = tmp_path / "png"
    assert (
        run_gen("--shaders", small_shaders, "--out", png, "--per-shader", 4, "--format", "png", *COMMON).returncode == 0
    )
    samples = list(wds.WebDataset(str(png / "synpat-000000.tar"), shardshuffle=False).decode("rgb8"))
    assert len(samples) == 12 and samples[0]["png"].shape == (32, 32, 3)
    # lossless png holds exactly what the renderer gives for those samples
    programs = find_programs([small_shaders])
    expect = Renderer(32).render_many(programs, Sampler(3, seed=7).range(0, 12))
    np.testing.assert_array_equal(np.stack([s["png"] for s in samples]), expect)


def test_two_ranks_write_disjoint_shards_equal_to_one_rank(small_shaders, tmp_path):
    single, split, env_split = tmp_path / "single", tmp_path / "split", tmp_path / "env"
    assert run_gen("--shaders", small_shaders, "--out", single, "--count", 70, *COMMON).returncode == 0
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "synpat.gen.cli",
                "--shaders",
                str(small_shaders),
                "--out",
                str(split),
                "--count",
                "70",
                *COMMON,
                "--rank",
                str(r),
                "--world-size",
                "2",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert "wrote 40 images in 2 shards" in errs[0] and "wrote 30 images in 2 shards" in errs[1]
    assert tars(split) == tars(single)
    manifest = json.loads((split / "manifest.json").read_text())
    assert len(manifest["shards"]["complete"]) == 4
    for rank, env in enumerate(
        (
            {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"},
            {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "1"},
        )
    ):
        proc = run_gen(
            "--shaders", small_shaders, "--out", env_split, "--count", 70, *COMMON, env={**os.environ, **env}
        )
        assert proc.returncode == 0, proc.stderr
        assert f"[{rank}/2]" in proc.stderr
    assert tars(env_split) == tars(single)


def test_killed_run_leaves_complete_tars_and_resume_gives_same_bytes(small_shaders, tmp_path):
    args = ["--shaders", small_shaders, "--count", 400, "--size", "48", "--shard-size", "10", "--seed", "3"]
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert run_gen(*args, "--out", full).returncode == 0
    assert kill_gen(killed, 3, *args) == -signal.SIGKILL  # a kill -9 once three shards are written
    done = tars(killed)
    assert 3 <= len(done) < 40
    for name, data in done.items():  # every visible tar is complete and equal to the full run's
        assert data == (full / name).read_bytes()
    again = run_gen(*args, "--out", killed)
    assert "not empty" in one_error_line(again)
    resumed = run_gen(*args, "--out", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done)} already done" in resumed.stderr
    assert tars(killed) == tars(full)
    assert not [p for p in killed.iterdir() if p.name.startswith(".")]  # no temporary files left
    other = run_gen(*args[:-1], "4", "--out", killed, "--resume")
    assert "other settings (seed differ)" in one_error_line(other)
    assert tars(killed) == tars(full)
    over = run_gen(*args[:-1], "4", "--out", killed, "--overwrite")
    assert over.returncode == 0 and tars(killed) != tars(full) and len(tars(killed)) == 40


def test_bad_programs_are_reported_and_skipped_or_fatal_with_strict(small_shaders, tmp_path):
    (small_shaders / "broken.frag").write_text(
        "// ok\nvoid mainImage(out vec4 o, in vec2 u) {\n  o = vec4(u, 0.0 1.0);\n}\n"
    )
    (small_shaders / "flat.glsl").write_text("void mainImage(out vec4 o, in vec2 u) { o = vec4(0.5); }\n")
    out = tmp_path / "out"
    proc = run_gen("--shaders", small_shaders, "--out", out, "--count", 12, *COMMON)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert any(l.startswith(f"{small_shaders / 'broken.frag'}:3: ") for l in lines), proc.stderr
    assert any(l.startswith(str(small_shaders / "flat.glsl")) and "constant" in l for l in lines)
    assert "(2 rejected)" in lines[-1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["name"] for r in manifest["rejected"]] == ["broken", "flat"]
    assert [p["name"] for p in manifest["programs"]] == ["fbm", "voronoi", "waves"]
    strict = tmp_path / "strict"
    line = one_error_line(run_gen("--shaders", small_shaders, "--out", strict, "--count", 12, *COMMON, "--strict"))
    assert "broken.frag:3:" in line and not strict.exists()


def test_bad_input_gives_one_line_and_writes_nothing(small_shaders, tmp_path):
    out = tmp_path / "out"
    assert "no such shader folder" in one_error_line(run_gen("--shaders", tmp_path / "nope", "--out", out))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no *.glsl or *.frag" in one_error_line(run_gen("--shaders", empty, "--out", out))
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "not a folder" in one_error_line(run_gen("--shaders", small_shaders, "--out", afile / "sub"))
    assert "cannot" in one_error_line(run_gen("--shaders", small_shaders, "--out", "/proc/synpat-test/out"))
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    assert "not empty" in one_error_line(run_gen("--shaders", small_shaders, "--out", full, "--count", 5))
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    assert "--quality" in one_error_line(run_gen("--shaders", small_shaders, "--out", out, "--quality", 0))
    assert not out.exists()
    proc = run_gen("--shaders", small_shaders, "--out", out, "--format", "gif")  # argparse's own message
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not out.exists()


def test_contact_sheet(small_shaders, tmp_path):
    out = tmp_path / "out"
    assert run_gen("--shaders", small_shaders, "--out", out, "--count", 30, *COMMON).returncode == 0
    sheet = tmp_path / "sheet.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "synpat.gen.contact",
            str(out),
            "--out",
            str(sheet),
            "--per-program",
            "4",
            "--tile",
            "40",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    im = np.asarray(Image.open(sheet))
    assert im.shape == (3 * 44 + 4, 150 + 4 * 44 + 4, 3)
    assert im[4:44, 154:194].std() > 3  # the first tile holds an image
    for bad in (["--tile", "0"], ["--out", str(tmp_path / "missing" / "s.png")], ["--out", str(tmp_path)]):
        proc = subprocess.run(
            [sys.executable, "-m", "synpat.gen.contact", str(out), *bad], capture_output=True, text=True
        )
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# llvmpipe ends a loop after 65535 iterations, so the work is in the body: seconds an image.
SLOW = (
    """float f(float x) { return fract(sin(x * 12.9898) * 43758.5453 + cos(x + iTime)); }
void mainImage(out vec4 o, in vec2 u) {
  float x = u.x;
  for (int i = 0; i < 60000; i++) { x = """
    + "f(" * 32
    + "x + float(i)"
    + ")" * 32
    + """; }
  o = vec4(x);
}
"""
)


def test_a_program_that_runs_too_long_is_killed_and_rejected(small_shaders):
    """The child hangs in a runaway loop (days of work on any machine): the parent kills it at the one
    deadline, rejects it as too slow and a fresh child checks the rest."""
    from synpat.gen.checks import CheckSettings, accept_programs

    (small_shaders / "hang.glsl").write_text(HANG)
    programs = find_programs([small_shaders])
    accepted, rejected = accept_programs(programs, CheckSettings(32, 32, time_limit=0.5, compile_seconds=1.5))
    assert [p.name for p in accepted] == ["fbm", "voronoi", "waves"]
    assert [(p.name, r.split(": ")[1]) for p, r in rejected] == [("hang", "too slow")]
    assert "after 2 s (--check-seconds 0.5" in rejected[0][1]


def test_a_slow_program_is_rejected_by_synpat_gen(small_shaders, tmp_path):
    (small_shaders / "slow.glsl").write_text(SLOW)
    out = tmp_path / "out"
    proc = run_gen("--shaders", small_shaders, "--out", out, "--count", 6, *COMMON, "--check-seconds", 1)
    assert proc.returncode == 0, proc.stderr
    assert any(
        l.startswith(str(small_shaders / "slow.glsl")) and ("too slow" in l or "timed out" in l)
        for l in proc.stderr.splitlines()
    ), proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["name"] for r in manifest["rejected"]] == ["slow"] and len(manifest["programs"]) == 3


def test_overwrite_by_a_rank_other_than_zero(small_shaders, tmp_path):
    out = tmp_path / "out"
    assert run_gen("--shaders", small_shaders, "--out", out, "--count", 8, *COMMON).returncode == 0
    proc = run_gen(
        "--shaders", small_shaders, "--out", out, "--count", 60, *COMMON, "--overwrite", "--rank", 1, "--world-size", 2
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("synpat-000001", "synpat-000002"):  # rank 1's share of shards 0..2
        assert (out / f"{name}.idx").read_text().startswith("v1.2 20\n")
