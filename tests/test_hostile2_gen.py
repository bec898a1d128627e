"""Issue 24's generator defects, each reproduced as the hostile user met it: read-only and odd cache
folders, outputs checked only at the end, odd --mix weights and seeds, shards the filters empty,
odd program encodings, a licence block before `// kind:`, a program folder written into twice."""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import run_gen
from hostile_fixtures import read_only_dir  # noqa: F401 (a fixture)
from synpat.core.errors import UserError
from synpat.core.files import write_atomic
from synpat.gen import glsl
from synpat.gen.check_cache import accept_cached
from synpat.gen.checks import CheckSettings
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from test_gen_cli import COMMON, one_error_line, tars

GRADIENT = "void mainImage(out vec4 o, in vec2 u) { o = vec4(u / iResolution.xy, 0.5, 1); }\n"


def run_tool(module: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )


# -- 2, 25: the program check cache --------------------------------------------------------------


def test_a_read_only_cache_checks_without_caching_with_one_warning(small_shaders, tmp_path, read_only_dir, monkeypatch):
    monkeypatch.setenv("SYNPAT_CACHE", str(read_only_dir))
    proc = run_gen("--shaders", small_shaders, "--out", tmp_path / "out", "--count", 20, *COMMON)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "cannot write the program check cache" in warnings[0], proc.stderr
    assert len(tars(tmp_path / "out")) == 1
    programs = find_programs([small_shaders])
    with pytest.raises(UserError, match="ranks > 0 wait for rank 0"):  # a rank > 0 needs rank 0's cache
        accept_cached(
            programs,
            CheckSettings(32, 32),
            rank=1,
            world_size=2,
            root=read_only_dir,
            identity="test",
            check=lambda chunk, s: [None] * len(chunk),
        )


def test_a_cache_path_that_is_a_file_is_named(small_shaders, tmp_path, monkeypatch):
    cache = tmp_path / "cache-file"
    cache.write_text("not a folder")
    monkeypatch.setenv("SYNPAT_CACHE", str(cache))
    line = one_error_line(run_gen("--shaders", small_shaders, "--out", tmp_path / "out", "--count", 20, *COMMON))
    assert f"{cache}: the program check cache" in line and "is a file" in line, line
    assert "delete it" not in line and "checks/" not in line


# -- 3, 4, 22: outputs ---------------------------------------------------------------------------


def test_write_atomic_on_a_read_only_file_system_is_one_user_error(read_only_dir):
    with pytest.raises(UserError, match=f"{read_only_dir / 'c.png'}: cannot write"):
        write_atomic(read_only_dir / "c.png", b"data")


@pytest.fixture
def one_shard(small_shaders, tmp_path) -> Path:
    out = tmp_path / "shards"
    assert run_gen("--shaders", small_shaders, "--out", out, "--count", 12, *COMMON).returncode == 0
    return out


def test_view_writes_the_format_its_suffix_names_and_refuses_others(one_shard, tmp_path, read_only_dir):
    for name, magic in (("v1.jpg", b"\xff\xd8\xff"), ("v1.png", b"\x89PNG"), ("v1.webp", b"RIFF")):
        proc = run_tool("synpat.gen.contact", one_shard, "--out", tmp_path / name, "--per-program", 2)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / name).read_bytes().startswith(magic), name
    line = one_error_line(run_tool("synpat.gen.contact", one_shard, "--out", tmp_path / "v1.gif"))
    assert "--out" in line and "expected a .png, .jpg, .jpeg or .webp" in line
    line = one_error_line(run_tool("synpat.gen.contact", one_shard, "--out", read_only_dir / "c.png"))
    assert f"cannot write in {read_only_dir}" in line


def test_stats_checks_its_out_before_measuring(small_shaders, tmp_path, read_only_dir):
    existing = tmp_path / "v1.jpg"
    existing.write_bytes(b"an image")
    args = ("--per-program", 1, "--size", 16, small_shaders / "fbm.glsl")
    line = one_error_line(run_tool("synpat.gen.stats_report", "--out", existing, *args))
    assert f"--out {existing}: exists and is not a folder" in line
    assert existing.read_bytes() == b"an image"
    line = one_error_line(run_tool("synpat.gen.stats_report", "--out", read_only_dir / "report", *args))
    assert f"cannot write in {read_only_dir}" in line


# -- 5, 16, 17: --mix and seeds ------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--mix", "noise=nan,cellular=1", "--mix: expected family=weight pairs with finite weights"),
        ("--mix", "noise=inf", "--mix: expected family=weight pairs with finite weights"),
        ("--mix", "noise=1e308,cellular=1e308", "a positive finite sum"),
        ("--mix", "noise=1,cellular=2,noise=3", "family 'noise' is named twice"),
        ("--seed", "-1", "--seed: expected a seed in 0..18446744073709551615"),
        ("--seed", str(2**64), "--seed: expected a seed in 0..18446744073709551615"),
    ],
)
def test_odd_mix_weights_and_seeds_give_one_line_and_leave_nothing(small_shaders, tmp_path, flag, value, expected):
    out = tmp_path / "out"
    line = one_error_line(run_gen("--shaders", small_shaders, "--out", out, "--count", 20, "--size", 32, flag, value))
    assert expected in line, line
    assert not out.exists()


def test_a_procedural_seed_out_of_range_is_refused(tmp_path):
    line = one_error_line(run_gen("--shaders", "procedural:3@-1", "--out", tmp_path / "out", *COMMON))
    assert "--shaders procedural:3@-1: expected a seed in 0..18446744073709551615 (64 bits), got -1" in line
    line = one_error_line(run_tool("synpat.gen.programs_cli", "--n", 2, "--seed", 2**64, "--out", tmp_path / "p"))
    assert "--seed: expected a seed in 0.." in line


# -- 6: shards the filters empty -----------------------------------------------------------------


def test_shards_the_filters_empty_are_not_written_and_the_folder_still_loads(small_shaders, tmp_path):
    out = tmp_path / "out"
    (small_shaders / "flat.glsl").write_text(  # a faint gradient: std ~0.003, below --min-std
        "void mainImage(out vec4 o, in vec2 u) { o = vec4(vec3(0.5 + 0.02 * u.x / iResolution.x), 1); }\n"
    )
    args = [
        "--shaders",
        small_shaders,
        "--count",
        12,
        "--size",
        32,
        "--shard-size",
        1,
        "--seed",
        3,
        "--min-std",
        0.02,
        "--group",
        1,
    ]
    proc = run_gen(*args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    kept = manifest["filtered"]["samples_kept"]
    assert 0 < kept < 12, proc.stderr  # some shards emptied, some not
    for tar in out.glob("*.tar"):  # every tar holds a sample
        with tarfile.open(tar) as f:
            assert len(f.getmembers()) == 3
    assert len(list(out.glob("*.tar"))) == kept
    assert len(manifest["shards"]["complete"]) == 12  # the emptied ones count as done
    resumed = run_gen(*args, "--out", out, "--resume")
    assert resumed.returncode == 0 and "12 already done" in resumed.stderr.splitlines()[-1], resumed.stderr
    from synpat.train.loaders import LoaderConfig, TorchShardLoader
    from synpat.train.shard_list import expand_urls

    urls = expand_urls(str(out))
    loader = TorchShardLoader(
        LoaderConfig(data=str(out), loader="torch", batch_size=1, image_size=16, num_workers=0, device="cpu"), urls
    )
    labels = [int(l) for _, labels in loader for l in labels]
    assert len(labels) == kept


# -- 7, 18: program text -------------------------------------------------------------------------


def test_bom_utf16_and_nul_bytes_in_programs(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "bom.glsl").write_bytes(codecs.BOM_UTF8 + GRADIENT.encode())
    (folder / "bom_kind.glsl").write_bytes(codecs.BOM_UTF8 + b"// kind: image\n" + GRADIENT.encode())
    (folder / "utf16.glsl").write_bytes(GRADIENT.encode("utf-16"))
    (folder / "utf16be.glsl").write_bytes(codecs.BOM_UTF16_BE + GRADIENT.encode("utf-16-be"))
    (folder / "nul.glsl").write_bytes(b"// a comment\n" + GRADIENT.encode() + b"\0\0")
    programs = {p.name: p for p in find_programs([folder])}
    assert programs["bom"].source == programs["utf16"].source == programs["utf16be"].source == GRADIENT
    renderer = Renderer(32, 32, backend="compute")
    for name in ("bom", "bom_kind", "utf16", "utf16be"):
        assert renderer.check(programs[name]) is None, name
    reason = renderer.check(programs["nul"])
    assert (
        reason == f"{folder / 'nul.glsl'}: line 3: a NUL byte; expected GLSL text (UTF-8, UTF-16 with a byte "
        "order mark, or Latin-1), not a binary file"
    ), reason


def test_kind_is_read_after_a_licence_block():
    source = (bundled_shaders_dir() / "fractaldb" / "ifs_0007.glsl").read_text()
    licensed = "/* Copyright 2026 someone\n * Licence: MIT\n */\n" + source
    assert glsl.program_kind(licensed) == "splat"
    assert (
        glsl.program_kind(
            "/* a */ // kind: splat\n/* b\n*/\n// x\nvec2 splatStep(inout uint r, vec2 p, out vec3 c)"
            " { c = vec3(1); return p; }"
        )
        == "splat"
    )
    assert glsl.program_kind("void f() {}\n// kind: splat\n") == "image"  # after code: an ordinary comment
    (program,) = find_programs([bundled_shaders_dir() / "fractaldb" / "ifs_0007.glsl"])
    from synpat.gen.programs import Program

    renderer = Renderer(32, 32, backend="compute")
    assert renderer.check(Program("lic", "lic.glsl", licensed)) is None


# -- 14: synpat-programs into a folder that holds programs ---------------------------------------


def test_programs_refuses_a_non_empty_folder_without_overwrite(tmp_path):
    out = tmp_path / "programs"
    assert run_tool("synpat.gen.programs_cli", "--n", 4, "--seed", 1, "--out", out).returncode == 0
    (out / "notes.txt").write_text("mine")
    line = one_error_line(run_tool("synpat.gen.programs_cli", "--n", 2, "--out", out))
    assert f"--out {out}: folder is not empty; pass --overwrite" in line
    assert len(list(out.glob("*.glsl"))) == 4
    proc = run_tool("synpat.gen.programs_cli", "--n", 2, "--out", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "proc0_00000.glsl", "proc0_00001.glsl"]


# -- found in the hostile round after the 25 ------------------------------------------------------


def test_stats_refuses_a_seed_out_of_range(small_shaders, tmp_path):
    line = one_error_line(
        run_tool(
            "synpat.gen.stats_report",
            small_shaders / "fbm.glsl",
            "--out",
            tmp_path / "r",
            "--seed",
            -1,
            "--per-program",
            1,
            "--size",
            16,
        )
    )
    assert "--seed: expected a seed in 0..18446744073709551615 (64 bits), got -1" in line
    assert not (tmp_path / "r").exists()


def test_two_program_writers_at_once_give_one_writer_and_one_line(tmp_path):
    out = tmp_path / "programs"
    argv = [sys.executable, "-m", "synpat.gen.programs_cli", "--n", "300", "--out", str(out)]
    procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = sorted((p.wait(timeout=300), p.stderr.read()) for p in procs)
    assert [rc for rc, _ in results] == [0, 2], results
    refused = results[1][1].strip().splitlines()
    assert len(refused) == 1 and "Traceback" not in results[1][1]
    assert "another synpat-programs (pid" in refused[0] or "folder is not empty" in refused[0], refused
    assert sorted(p.name for p in out.iterdir()) == [f"proc0_{i:05d}.glsl" for i in range(300)]
