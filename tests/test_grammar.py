"""The procedural program grammar: determinism, distinct sets, validity by construction on both
backends, procedural:N as a --shaders source, and synpat-programs' files."""

import hashlib
import subprocess
import sys

import pytest
from conftest import run_gen
from synpat.core.errors import UserError
from synpat.gen.grammar import program_sources, recipe_of
from synpat.gen.programs import find_programs
from synpat.gen.renderer import Renderer


def digest(pairs) -> str:
    return hashlib.sha256("".join(name + source for name, source in pairs).encode()).hexdigest()


def test_same_seed_same_sources_byte_for_byte_in_a_fresh_process():
    here = digest(program_sources(300, 5))
    code = (
        "import hashlib; from synpat.gen.grammar import program_sources; "
        "print(hashlib.sha256(''.join(n + s for n, s in program_sources(300, 5)).encode()).hexdigest())"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert here == there
    assert program_sources(100, 5) == program_sources(300, 5)[:100]  # a set is a prefix of a larger one


def test_distinct_seeds_distinct_sets_and_distinct_programs():
    a, b = program_sources(200, 0), program_sources(200, 1)
    assert len({s for _, s in a} & {s for _, s in b}) == 0
    assert len({s for _, s in a}) == 200
    recipes = {recipe_of(s) for _, s in a}
    assert len(recipes) > 150  # structure varies, not only constants
    assert all(s.count("void mainImage(out vec4 fragColor, in vec2 fragCoord)") == 1 for _, s in a)
    assert all("iSeed" in s and "iParams" in s for _, s in a)


@pytest.mark.parametrize("backend", ["compute", "fragment"])
def test_a_sample_of_200_programs_compiles_and_renders_non_constant(backend):
    programs = find_programs(["procedural:200@11"])
    renderer = Renderer(32, 32, backend=backend)
    reasons = [renderer.check(p) for p in programs]
    assert [r for r in reasons if r] == []
    assert len(programs) == 200


def test_procedural_source_uses_the_run_seed_unless_given():
    assert find_programs(["procedural:3"], seed=4) == find_programs(["procedural:3@4"], seed=0)
    assert find_programs(["procedural:3"], seed=4) != find_programs(["procedural:3"], seed=5)
    for bad in ("procedural:", "procedural:x", "procedural:0", "procedural:3@", "procedural:100001"):
        with pytest.raises(UserError, match="--shaders procedural:"):
            find_programs([bad])


def test_written_programs_render_unchanged_through_a_folder(tmp_path):
    out = tmp_path / "progs"
    proc = subprocess.run(
        [sys.executable, "-m", "synpat.gen.programs_cli", "--n", "4", "--seed", "2", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    from_folder = find_programs([out])
    generated = find_programs(["procedural:4@2"])
    assert [(p.name, p.source, p.hash) for p in from_folder] == [(p.name, p.source, p.hash) for p in generated]
    bad = subprocess.run(
        [sys.executable, "-m", "synpat.gen.programs_cli", "--n", "0", "--out", str(out)], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.strip() == "synpat-programs: error: --n: expected 1..100000, got 0"


def test_synpat_gen_takes_procedural_sets(tmp_path):
    out = tmp_path / "out"
    proc = run_gen(
        "--shaders", "procedural:5", "--out", out, "--per-shader", 2, "--size", 32, "--seed", 3, "--shard-size", 10
    )
    assert proc.returncode == 0, proc.stderr
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["name"] for p in manifest["programs"]] == [f"proc3_{i:05d}" for i in range(5)]
    assert manifest["rejected"] == [] and manifest["samples"] == 10
