"""Splat programs (`// kind: splat`): points scattered with atomics, then resolved, on Mesa llvmpipe."""

import numpy as np
import pytest
from synpat.gen import glsl
from synpat.gen.programs import Program, bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

SIZE = 96
CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])

# Sierpinski's three maps p -> (p + corner_i) / 2, each point coloured by its map (red, green, blue).
SIERPINSKI = """// kind: splat
vec2 splatStep(inout uint rng, vec2 p, out vec3 colour) {
    uint i = min(uint(splatRandom(rng) * 3.0), 2u);
    vec2 corner = i == 0u ? vec2(0.0, 0.0) : i == 1u ? vec2(1.0, 0.0) : vec2(0.5, 0.8660254);
    colour = vec3(i == 0u, i == 1u, i == 2u);
    return 0.5 * (p + corner);
}
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec4 d = splatPixel(fragCoord);
    fragColor = vec4(d.a > 0.0 ? d.rgb : vec3(0.0), 1.0);
}
"""


def sierpinski() -> Program:
    return Program("sierpinski", "/shaders/sierpinski.glsl", SIERPINSKI)


@pytest.fixture(scope="module")
def compute():
    return Renderer(SIZE, backend="compute", max_batch=8)


def expected_raster(lo: np.ndarray, hi: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool, top row first: pixels a long numpy chaos game on Sierpinski's maps hits,
    drawn in the frame whose pixel box is [lo, hi] (x, y in pixels, y up)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (4096, 2))
    hit = np.zeros((size, size), bool)
    scale = (hi - lo) / np.array([1.0, np.sqrt(3) / 2])
    for step in range(300):
        p = 0.5 * (p + CORNERS[rng.integers(0, 3, len(p))])
        if step >= 40:
            f = np.floor(lo + p * scale).astype(int)
            hit[size - 1 - f[:, 1], f[:, 0]] = True
    return hit


def grow(mask: np.ndarray) -> np.ndarray:
    """mask (H, W) bool, grown by one pixel (8 neighbours)."""
    out = mask.copy()
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1)):
        out |= np.roll(mask, (dy, dx), axis=(0, 1))
    return out


def test_sierpinski_splats_onto_its_triangle(compute):
    image = compute.render(sierpinski(), Sampler(1, seed=3).range(0, 1))[0]
    lit = image.max(axis=2) > 0
    rows, cols = np.nonzero(lit)
    # framed: centred, the wider side spanning the image less the margins
    width = cols.max() - cols.min() + 1
    assert abs(width - SIZE * (1 - 2 * glsl.SPLAT_MARGIN)) <= 2
    assert abs((cols.min() + cols.max()) / 2 - (SIZE - 1) / 2) <= 1
    # apex up (top row first): the top lit row is a few pixels at the centre, the bottom one spans it all
    assert np.ptp(cols[rows == rows.min()]) <= 3 and np.ptp(cols[rows == rows.max()]) >= width - 3
    # the same frame in numpy: every lit pixel lies on the attractor (1 pixel of slack), and the
    # attractor's pixels are all lit
    lo = np.array([cols.min(), SIZE - 1 - rows.max()], float)
    hi = np.array([cols.max() + 1, SIZE - rows.min()], float)
    expected = expected_raster(lo, hi, SIZE)
    assert not (lit & ~grow(expected)).any(), f"{int((lit & ~grow(expected)).sum())} pixels lit off the attractor"
    assert (expected & grow(lit)).sum() >= 0.98 * expected.sum()
    # the holes are empty: the central one (half the triangle's height) and the three next ones
    centre = (rows.min() + 3 * rows.max()) // 4, (cols.min() + cols.max()) // 2
    assert not lit[centre[0] - 3 : centre[0] + 3, centre[1] - 3 : centre[1] + 3].any()
    assert lit.sum() < 0.6 * 0.5 * width * (rows.max() - rows.min())  # well under the full triangle's area
    # colour by map: the lower-left corner's points come from map 0 (red), the lower right from map 1, the apex from 2
    quarter_h, quarter_w = (rows.max() - rows.min()) // 4, width // 4
    top = rows < rows.min() + quarter_h
    bottom = rows > rows.max() - quarter_h
    for where, channel in (
        (top, 2),
        (bottom & (cols < cols.min() + quarter_w), 0),
        (bottom & (cols > cols.max() - quarter_w), 1),
    ):
        mean = image[rows[where], cols[where]].mean(axis=0)
        assert mean.argmax() == channel and mean[channel] > 200, (channel, mean)


def test_every_point_lands_and_points_scale_with_the_image(compute):
    renderer = Renderer(SIZE, 2 * SIZE, backend="compute", max_batch=2)
    assert (
        renderer.splat_points
        == -(-int(glsl.SPLAT_POINTS_PER_PIXEL * SIZE * 2 * SIZE) // glsl.SPLAT_STEPS) * glsl.SPLAT_STEPS
    )
    assert compute.splat_points < renderer.splat_points
    renderer.render(sierpinski(), Sampler(1, seed=3).range(0, 2))
    density = np.frombuffer(renderer._density.read(), np.uint32).reshape(-1, 2 * SIZE, SIZE, glsl.SPLAT_WORDS)
    hits = density[:2, ..., 0].reshape(2, -1)
    np.testing.assert_array_equal(hits.sum(axis=1), renderer.splat_points)  # the frame holds them all
    rgb = density[:2, ..., 1:].reshape(2, -1, 3).sum(axis=1)
    np.testing.assert_array_equal(rgb.sum(axis=1), 255 * hits.sum(axis=1))  # one channel of 255 per point


def test_deterministic_across_renderers_batches_and_backends(compute):
    program = sierpinski()
    fractals = [p for p in find_programs([bundled_shaders_dir() / "fractaldb"])][:2]
    samples = Sampler(1, seed=8).range(0, 5)
    for p in (program, *fractals):
        a = compute.render(p, samples)
        np.testing.assert_array_equal(a, compute.render(p, samples))
        small = Renderer(SIZE, backend="compute", max_batch=3)
        small.splat_slots = 2  # density reused within a chunk
        np.testing.assert_array_equal(a, small.render(p, samples))
        b = Renderer(SIZE, backend="fragment", max_batch=4).render(p, samples)
        assert np.abs(a.astype(int) - b).max() <= 2, p.name
    a = compute.render(fractals[0], samples)
    assert len({im.tobytes() for im in a}) == 5  # iSeed varies the instance


def test_a_batch_of_mixed_kinds_matches_each_program_alone(bundled_programs):
    images = [p for p in bundled_programs if p.kind == "image"][:2]
    splats = [p for p in bundled_programs if p.kind == "splat"][:2] + [sierpinski()]
    programs = [images[0], splats[0], images[1], splats[1], splats[2]]
    samples = Sampler(len(programs), seed=6).range(0, 15)
    assert len(set(samples.program.tolist())) == len(programs)
    renderer = Renderer(40, 28, backend="compute", max_batch=6)
    renderer.splat_slots = 2
    mixed = renderer.render_many(programs, samples)
    fragment = Renderer(40, 28, backend="fragment", max_batch=6)
    fragment.splat_slots = 2  # a resolve draw must end before its density is cleared
    assert np.abs(fragment.render_many(programs, samples).astype(int) - mixed).max() <= 2
    alone = Renderer(40, 28, backend="fragment")
    for i in range(len(samples)):
        one = samples.take(np.array([i]))
        expected = alone.render(programs[int(one.program[0])], one)[0]
        assert np.abs(mixed[i].astype(int) - expected).max() <= 2, (i, programs[int(one.program[0])].name)


def test_kind_mistakes_are_one_line_reasons(compute):
    flame = Program(
        "flame", "/s/flame.glsl", "// kind: flame\nvoid mainImage(out vec4 c, in vec2 f) { c = vec4(1.0); }"
    )
    assert compute.check(flame) == "/s/flame.glsl: `// kind:` expects one of image, splat, sound, got 'flame'"
    no_step = Program(
        "nostep", "/s/nostep.glsl", "// kind: splat\nvoid mainImage(out vec4 c, in vec2 f) { c = splatPixel(f); }"
    )
    assert compute.check(no_step) == (
        "/s/nostep.glsl: a `// kind: splat` program defines "
        "`vec2 splatStep(inout uint rng, vec2 p, out vec3 colour)`; none found"
    )
    prose = Program(
        "prose", "/s/prose.glsl", "// kind of a hack, this\nvoid mainImage(out vec4 c, in vec2 f) { c = vec4(f.x); }"
    )
    assert prose.kind == "image" and compute.check(prose) is None
    late = Program("late", "/s/late.glsl", "void mainImage(out vec4 c, in vec2 f) { c = vec4(f.x); }\n// kind: splat\n")
    assert late.kind == "image" and compute.check(late) is None  # only the opening comments are a header
    assert Program("s", "/s/s.glsl", "// SPDX: MIT\n\n//   Kind : Splat\n" + SIERPINSKI).kind == "splat"
    wordy = Program(
        "w", "/s/w.glsl", "// kind: splat program\nvoid mainImage(out vec4 c, in vec2 f) { c = vec4(1.0); }"
    )
    assert compute.check(wordy) == "/s/w.glsl: `// kind:` expects one of image, splat, sound, got 'splat program'"
    typo = Program(
        "typo", "/s/typo.glsl", SIERPINSKI.replace("return 0.5 * (p + corner);", "return 0.5 * (p + corner)")
    )
    assert compute.check(typo).startswith("/s/typo.glsl:7: ")


def test_a_wrong_splat_step_is_named_as_such(compute):
    hint = "(in the point pass of a `// kind: splat` program: is there a `vec2 splatStep(inout uint rng, vec2 p, out vec3 colour)`?)"
    for step in (
        "vec2 splatStep(vec2 p) { return p * 0.5; }",
        "vec3 splatStep(inout uint rng, vec2 p, out vec3 colour) { colour = vec3(1); return vec3(p, 0.); }",
    ):
        reason = compute.check(
            Program(
                "w",
                "/s/w.glsl",
                f"// kind: splat\n{step}\nvoid mainImage(out vec4 c, in vec2 f) {{ c = splatPixel(f); }}\n",
            )
        )
        assert reason.startswith("/s/w.glsl: error: ") and reason.endswith(hint), reason
    wrong = compute.check(
        Program("m", "/s/m.glsl", "void mainImage(out vec4 c, in vec2 f, float x) { c = vec4(f.x); }\n")
    )
    assert wrong.endswith("(in the call of mainImage: is there a `void mainImage(out vec4, in vec2)`?)"), wrong
