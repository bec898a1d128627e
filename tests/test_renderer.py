"""The real renderer on Mesa llvmpipe (or the GPU where there is one)."""

import numpy as np
import pytest
from synpat.gen.programs import Program
from synpat.gen.renderer import CompileError, Renderer
from synpat.gen.sampler import Sampler

SIZE = 48


def program(source: str, name: str = "t") -> Program:
    return Program(name=name, path=f"/shaders/{name}.glsl", source=source)


@pytest.fixture(scope="module")
def compute():
    return Renderer(SIZE, backend="compute", max_batch=16)


@pytest.fixture(scope="module")
def fragment():
    return Renderer(SIZE, backend="fragment", max_batch=16)


def test_every_bundled_program_renders_on_both_backends_and_they_agree(bundled_programs, compute, fragment):
    assert len(bundled_programs) >= 12
    samples = Sampler(1, seed=11).range(0, 6)
    for p in bundled_programs:
        assert compute.check(p) is None, p.name
        assert fragment.check(p) is None, p.name
        a, b = compute.render(p, samples), fragment.render(p, samples)
        assert a.shape == (6, SIZE, SIZE, 3) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b).max() <= 2, p.name
        flat = a.reshape(6, -1)
        assert (flat.max(1).astype(int) - flat.min(1)).min() > 10, f"{p.name} renders a flat image"
        assert len({im.tobytes() for im in a}) == 6, f"{p.name}: samples are not distinct"


def test_odd_sizes_mixed_programs_and_small_batches_agree(bundled_programs):
    """Odd tile sizes, several programs in one batch, batches split over several chunks."""
    programs = bundled_programs[:4]
    samples = Sampler(len(programs), seed=9).range(0, 11)
    a = Renderer(33, 21, backend="compute", max_batch=4).render_many(programs, samples)
    b = Renderer(33, 21, backend="fragment", max_batch=3).render_many(programs, samples)
    assert a.shape == (11, 21, 33, 3) and np.abs(a.astype(int) - b).max() <= 2
    one = Renderer(33, 21, backend="compute")
    for i in (0, 5, 10):
        np.testing.assert_array_equal(a[i], one.render(programs[samples.program[i]], samples.take(np.array([i])))[0])


def test_deterministic(bundled_programs, compute):
    samples = Sampler(1, seed=5).range(100, 104)
    p = bundled_programs[0]
    np.testing.assert_array_equal(compute.render(p, samples), compute.render(p, samples))
    fresh = Renderer(SIZE, backend="compute", max_batch=3)  # other batch split, same bytes
    np.testing.assert_array_equal(compute.render(p, samples), fresh.render(p, samples))


PROBE = """
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    fragColor = (uv.x < 0.5) ? vec4(uv, 0.0, 1.0)
              : vec4(iTime / 10.0, iParams.x, float(iSeed & 255u) / 255.0, 1.0);
}
"""


@pytest.mark.parametrize("backend", ["compute", "fragment"])
def test_top_row_first_and_per_sample_inputs(backend, compute, fragment):
    r = compute if backend == "compute" else fragment
    s = Sampler(1, seed=2).range(0, 5)
    img = r.render(program(PROBE), s).astype(int)
    # left half: green = fragCoord.y / H, so the top row is bright, the bottom row dark
    assert img[:, 0, 0, 1].min() >= 250 and img[:, -1, 0, 1].max() <= 5
    assert abs(img[0, 0, 10, 0] - round(255 * 10.5 / SIZE)) <= 1
    right = img[:, SIZE // 2, -1]
    np.testing.assert_allclose(right[:, 0], s.time / 10 * 255, atol=1)
    np.testing.assert_allclose(right[:, 1], s.params[:, 0] * 255, atol=1)
    np.testing.assert_array_equal(right[:, 2], s.seed & 255)


SHADERTOY_STYLE = """#version 300 es
precision highp float;
precision mediump int;
#define PI 3.14159265
#define ROT(a) mat2(cos(a), sin(a), -sin(a), cos(a))
struct Ray { vec3 o; vec3 d; };
const vec3 PALETTE[3] = vec3[3](vec3(1.0, 0.2, 0.1), vec3(0.1, 0.8, 0.3), vec3(0.2, 0.3, 1.0));
float t0 = iTime * 0.5;                 // global initialised from a per-sample input
vec2 R = iResolution.xy;
int counter;
void bump(inout float x, out int k) { x += 0.25; k = 3; }
float sample = 0.5;                     // a keyword in desktop GLSL, a name in GLSL ES
void mainImage( out vec4 O,
                vec2 U )
{
    vec2 uv = (U - 0.5 * R) / R.y * ROT(t0);
    Ray r = Ray(vec3(0.0), normalize(vec3(uv, 1.0)));
    float v = r.d.x * 0.5 + sample;
    int k; bump(v, k); counter = k;
    vec3 c = mix(PALETTE[counter % 3], PALETTE[(int(iDate.w) + iFrame) % 3], fract(v * PI + iMouse.x));
    O = vec4(c * (0.5 + 0.5 * sin(gl_FragCoord.y * 0.2)) + iParams.y * 0.1 * sin(gl_FragCoord.x), 1.0);
    O.rgb *= 0.9 + 0.1 * iChannelResolution[0].x / 256.0;
}
"""

NEEDS_FRAGMENT = """
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    float f = sin(uv.x * 40.0 + iTime) * cos(uv.y * 30.0);
    vec3 tex = texture(iChannel0, uv * 2.0).rgb;
    fragColor = vec4(0.5 + 0.5 * f, fwidth(f) * 8.0, tex.b, 1.0);
}
"""


def test_shadertoy_code_renders_unchanged(compute, fragment):
    p = program(SHADERTOY_STYLE)
    assert compute.check(p) is None and fragment.check(p) is None
    s = Sampler(1).range(0, 4)
    a, b = compute.render(p, s), fragment.render(p, s)
    assert np.abs(a.astype(int) - b).max() <= 2
    assert a.std() > 10


def test_auto_falls_back_to_fragment_for_derivatives_and_textures():
    p = program(NEEDS_FRAGMENT)
    auto = Renderer(SIZE, backend="auto")
    assert auto.backend_for(p) == "fragment" and auto.check(p) is None
    img = auto.render(p, Sampler(1).range(0, 2))
    assert img[..., 1].std() > 5 and img[..., 2].std() > 20  # derivatives and the noise texture
    with pytest.raises(CompileError, match="cannot use the compute backend"):
        Renderer(SIZE, backend="compute").compile(p)


def test_compile_error_names_the_users_file_and_line(compute):
    bad = "// a comment\nfloat f(float x) {\n  return x * 2.0\n}\nvoid mainImage(out vec4 o, in vec2 u) { o = vec4(f(u.x)); }\n"
    reason = compute.check(program(bad, "broken"))
    assert reason.startswith("/shaders/broken.glsl:4: ") and "\n" not in reason
    undefined = "void mainImage(out vec4 o, in vec2 u) {\n\n  o = vec4(nope);\n}\n"
    assert compute.check(program(undefined, "u")).startswith("/shaders/u.glsl:3: ")
    no_main = "void mainImag(out vec4 o, in vec2 u) { o = vec4(1.0); }"
    assert "mainImage" in compute.check(program(no_main, "m"))


def test_constant_and_nan_programs_are_rejected(compute, fragment):
    constant = "void mainImage(out vec4 o, in vec2 u) { o = vec4(0.2, 0.4, 0.6, 1.0); }"
    nan = "void mainImage(out vec4 o, in vec2 u) { float z = u.x - u.x; o = vec4(log(z - 1.0), 0.5, sqrt(-1.0 - z), 1.0); }"
    for r in (compute, fragment):
        assert "constant" in r.check(program(constant))
        assert "NaN in 67%" in r.check(program(nan), max_nan=0.5)
        assert "constant" in r.check(program(nan))  # NaN shows as 0: one colour
