"""Shadertoy programs as users paste them (issue 13): our wrapper must not collide with their
names, NaN channels render as a GPU writes them, probe decisions match what a run samples, and
cube / 3D channels bind. Real renderer on llvmpipe (or the GPU where there is one)."""

import numpy as np
import pytest
from synpat.gen import glsl
from synpat.gen.programs import Program
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

SIZE = 32
SAMPLES = Sampler(1, seed=5).range(0, 4)


def program(source: str, name: str = "t") -> Program:
    return Program(name=name, path=f"/user/{name}.glsl", source=source)


@pytest.fixture(scope="module")
def renderers():
    return {b: Renderer(SIZE, backend=b, max_batch=8) for b in ("compute", "fragment")}


def renders(r: Renderer, p: Program) -> np.ndarray:
    """Asserts ``p`` passes the checks and returns 4 images that are not one colour."""
    assert r.check(p) is None, r.check(p)
    images = r.render(p, SAMPLES)
    assert images.std() > 5
    return images


# Each program is valid for a plain Shadertoy host (GLSL 3.30, uniforms, main() after the code).
COLLIDING = {
    "rgb_macro": "#define rgb(r,g,b) vec3(r,g,b)/255.\n"
    "void mainImage(out vec4 c, in vec2 f){c=vec4(mix(rgb(255,100,30),rgb(20,40,200),f.x/iResolution.x+.3*sin(iTime)),1);}",
    "t_macro": "#define t iTime\n#define c col\n#define fc p\n#define inside 0\n#define at 1\n"
    "void mainImage(out vec4 O, in vec2 U){ O = vec4(.5+.5*sin(U.xyx*.3+t), 1); }",
    "x_macro": "#define x 0.5\n#define y 3.0\n"
    "void mainImage(out vec4 O, in vec2 U){float v=sin(length(U/iResolution.yy-x)*20.*y-iTime);O=vec4(v,v*v,1.-v,1.);}",
    "clamp_macro": "#define clamp(x) min(max(x,0.),1.)\n"
    "void mainImage(out vec4 O, vec2 U){O=vec4(clamp(sin(U.x*.5+iTime)),clamp(U.y/iResolution.y),.5,1.);}",
    "golfed_main": "#define R iResolution\n#define mainImage(O,u) \\\n  vec2 U = u/R.y*8.; \\\n"
    "  O = vec4(sin(U.x+iTime)*cos(U.y), .5+.5*sin(U.y*2.), fract(U.x*.3), 1)",
    "time_param": "#define time iTime\nfloat wave(vec2 p, float time){return sin(p.x*10.+time)*cos(p.y*7.-time);}\n"
    "void mainImage(out vec4 o, in vec2 u){float w=wave(u/iResolution.xy,time);o=vec4(w,.5+.5*w,.2,1);}",
    "iTime_param": "vec3 pal(float iTime){return .5+.5*cos(iTime+vec3(0,2,4));}\n"
    "void mainImage(out vec4 o, in vec2 u){o=vec4(pal(u.x/iResolution.x*6.+iTime),1);}",
    "keywords": "float shared = .3;\nvec3 buffer(vec2 p){return vec3(sin(p*10.),shared);}\n"
    "float sample(float v){return fract(v);} vec3 patch = vec3(.2);\n"
    "void mainImage(out vec4 o, in vec2 u){o=vec4(buffer(u/iResolution.xy+iTime*.1)*.5+.5+patch*sample(iTime),1);}",
}


@pytest.mark.parametrize("backend", ["compute", "fragment"])
@pytest.mark.parametrize("name", sorted(COLLIDING))
def test_user_macros_and_names_do_not_collide_with_the_wrapper(renderers, backend, name):
    renders(renderers[backend], program(COLLIDING[name], name))


def test_inputs_are_variables_a_user_can_redefine(renderers):
    shifted = program(
        "#define iTime (iTime + 5.)\n"
        "void mainImage(out vec4 o, in vec2 u){o=vec4(fract(iTime*.37),u/iResolution.xy,1);}"
    )
    explicit = program("void mainImage(out vec4 o, in vec2 u){o=vec4(fract((iTime + 5.)*.37),u/iResolution.xy,1);}")
    global_init = program(
        "float t = iTime + 5.;\nvec2 R = iResolution.xy;\n"
        "void mainImage(out vec4 o, in vec2 u){o=vec4(fract(t*.37),u/R,1);}"
    )
    for r in renderers.values():
        want = r.render(explicit, SAMPLES).astype(int)
        assert np.abs(renders(r, shifted) - want).max() <= 1
        assert np.abs(renders(r, global_init) - want).max() <= 1


def test_a_global_in_variable_falls_back_to_the_fragment_stage():
    p = program("in vec2 vUv;\nvoid mainImage(out vec4 o, in vec2 u){o=vec4(u/iResolution.xy,.5+.5*sin(iTime*2.),1);}")
    auto = Renderer(SIZE, backend="auto", max_batch=8)
    renders(auto, p)
    assert auto.compile(p).backend == "fragment"


def test_errors_name_the_users_line_even_after_their_macros(renderers):
    source = "#define t iTime\n#define x 0.5\nvoid mainImage(out vec4 o, in vec2 u) {\n  o = vec4(t * x)\n}\n"
    for r in renderers.values():
        assert r.check(program(source, "five")).startswith("/user/five.glsl:5: ")
    kw = "float sample = 1.;\nvoid mainImage(out vec4 o, in vec2 u) { o = vec4(sample + nope); }\n"
    reason = renderers["compute"].check(program(kw, "kw"))
    assert reason.startswith("/user/kw.glsl:2: ") and "_sp_" not in reason
    assert "mainImage" in renderers["compute"].check(program("void mainImag(out vec4 o, in vec2 u) { o = vec4(1); }"))
    # An error the compiler reports in our own code (source string 1) says so, without a user line.
    ours = glsl.first_error("1:7(3): error: something of ours", "/user/p.glsl")
    assert ours.startswith("/user/p.glsl: error in synpat's wrapper") and ":7:" not in ours


NAN_SKY = """void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec3 sky = vec3(uv.y - 0.6, 0.5 + 0.3 * sin(iTime + uv.x * 5.0), 0.8);   // red < 0 below 60%
    fragColor = vec4(pow(sky, vec3(0.4545)), 1.0);
}"""


@pytest.mark.parametrize("backend", ["compute", "fragment"])
def test_a_nan_channel_renders_as_zero_and_the_rest_shows(renderers, backend):
    r = renderers[backend]
    p = program(NAN_SKY)
    assert r.check(p) is None
    rgba = r.render_rgba(p, Sampler(1, seed=1).range(0, 2))
    low = rgba[:, -4:]  # bottom rows: red is pow(negative) = NaN
    assert (low[..., 0] == 0).all() and (low[..., 2] > 200).all() and (low[..., 1] > 100).all()
    assert (low[..., 3] == 170).all() and (rgba[:, :4, :, 3] == 255).all()  # alpha counts bad channels
    inf = program("void mainImage(out vec4 o, in vec2 u){o=vec4(1./(u.x-u.x), -1./(u.x-u.x), u.y/iResolution.y, 1);}")
    img = r.render_rgba(inf, Sampler(1).range(0, 1))
    assert (img[..., 0] == 255).all() and (img[..., 1] == 0).all()  # +Inf clamps to 1, -Inf to 0
    assert (img[..., 3] == 255).all()  # a clamped Inf is not invalid


def test_a_discarded_pixel_is_opaque_black_not_invalid(renderers):
    p = program(
        "void mainImage(out vec4 o, in vec2 u){ if (u.x < iResolution.x * 0.75) discard; o = vec4(0.2, u.y / iResolution.y, 0.9, 1); }"
    )
    r = renderers["fragment"]
    rgba = r.render_rgba(p, Sampler(1, seed=2).range(0, 2))
    w = rgba.shape[2]
    assert (rgba[:, :, : w // 2] == [0, 0, 0, 255]).all()  # discarded: black, alpha says valid
    assert (rgba[:, :, -2:, 2] > 200).all() and (rgba[..., 3] == 255).all()
    assert r.check(p) is None


def test_mostly_invalid_programs_are_rejected_at_max_nan_with_the_fraction(renderers):
    half = program(
        "void mainImage(out vec4 o, in vec2 u){float z=u.x-u.x; o=vec4(log(z-1.), sqrt(z-1.), u.y/iResolution.y+.1*sin(iTime), 1);}"
    )
    r = renderers["compute"]
    assert r.check(half) is None  # a NaN background under a pattern is kept
    reason = r.check(half, max_nan=0.5)
    assert "NaN in 67%" in reason and "--max-nan 0.5" in reason
    assert r.check(half, max_nan=0.7) is None
    void = program("void mainImage(out vec4 o, in vec2 u){float z=u.x-u.x; o=vec4(log(z-1.));}")
    assert "NaN in 100%" in r.check(void)  # nothing but NaN


FADE_IN = """void mainImage(out vec4 o, vec2 u) {
    float fade = smoothstep(3.0, 5.0, iTime);   // black for iTime < 3
    o = vec4(fade * (0.5 + 0.5 * sin(u.xyx * 0.3 + iTime + vec3(0, 2, 4))), 1.0);
}"""


def test_constant_only_when_most_probes_are_and_at_the_runs_time_range(renderers):
    r = renderers["compute"]
    assert r.check(program(FADE_IN)) is None  # some probes are black, most are not
    late = program("void mainImage(out vec4 o, vec2 u){o=vec4(step(20., iTime)*u/iResolution.xy, .5, 1);}")
    assert "constant images (8 of 8" in r.check(late)
    assert r.check(late, time_range=(20.0, 30.0)) is None  # the run samples iTime in 20..30


def test_too_slow_names_the_limit_and_the_time_per_image(renderers):
    reason = renderers["compute"].check(program(FADE_IN, "slow"), time_limit=1e-9)
    assert reason.startswith("/user/slow.glsl: too slow: ") and "s an image at 32x32" in reason
    assert "1 of the 3 probe images needed in --check-seconds 1e-09" in reason


CUBE = """vec3 env(samplerCube s, vec3 d) { return texture(s, d).rgb; }
void mainImage(out vec4 o, vec2 u) {
    vec3 rd = normalize(vec3((2.0 * u - iResolution.xy) / iResolution.y, 1.0));
    rd.xz *= mat2(cos(iTime), sin(iTime), -sin(iTime), cos(iTime));
    o = vec4(texture(iChannel0, rd).rgb * 0.5 + env(iChannel1, rd.yzx) * 0.5, 1.0);
}"""


@pytest.mark.parametrize("backend", ["compute", "fragment"])
def test_channels_sampled_with_a_direction_get_a_cube_map(renderers, backend):
    renders(renderers[backend], program(CUBE))


def test_a_channels_comment_declares_3d_textures(renderers):
    volume = (
        "// channels: 2d, 3d\n"
        "void mainImage(out vec4 o, vec2 u){vec3 p=vec3(u/iResolution.y, iTime*.05);"
        " o=vec4(texture(iChannel1,p).r, iChannelResolution[1].z / 64., texelFetch(iChannel1, ivec3(p*32.)&31, 0).g, 1);}"
    )
    for r in renderers.values():
        img = renders(r, program(volume))
        assert np.abs(img[..., 1].astype(int) - 128).max() <= 1  # iChannelResolution[1] = (32, 32, 32)
    bad = renderers["compute"].check(program("// channels: cube, volume\n" + FADE_IN, "bad"))
    assert bad.startswith("/user/bad.glsl: `// channels:` expects") and "'volume'" in bad


def test_plain_texture_lookups_stay_on_compute_and_match_the_fragment_stage(renderers):
    p = program(
        "void mainImage(out vec4 o, vec2 u){vec2 uv=u/iResolution.xy;"
        " o=vec4(texture(iChannel0, uv*2.+iTime*.05).rgb, 1);}"
    )
    auto = Renderer(SIZE, backend="auto", max_batch=8)
    assert auto.backend_for(p) == "compute" and auto.compile(p).backend == "compute"
    a, f = renders(renderers["compute"], p), renderers["fragment"].render(p, SAMPLES)
    assert np.abs(a.astype(int) - f).max() <= 2


def test_the_checker_child_applies_max_nan_and_the_time_range():
    from synpat.core.errors import UserError
    from synpat.gen.checks import CheckSettings, check_programs
    from synpat.gen.generate import GenConfig

    nan = program(
        "void mainImage(out vec4 o, in vec2 u){float z=u.x-u.x; o=vec4(log(z-1.), sqrt(z-1.), u.y/iResolution.y, 1);}",
        "nan",
    )
    late = program("void mainImage(out vec4 o, vec2 u){o=vec4(step(20., iTime)*u/iResolution.xy, .5, 1);}", "late")
    strict, loose = (CheckSettings(SIZE, SIZE, max_nan=m, time_range=(20.0, 30.0)) for m in (0.5, 0.7))
    assert check_programs([nan, late], loose) == [None, None]
    assert "--max-nan 0.5" in check_programs([nan], strict)[0]
    with pytest.raises(UserError, match="--max-nan"):
        GenConfig(max_nan=1.5).validate()


def test_uninitialised_locals_start_at_zero_as_in_webgl(renderers):
    golfed = program(
        "void mainImage(out vec4 o, vec2 u) { vec4 d, i; d.yw++; i.x += 0.5; "
        "o = vec4(d.y * u.x / iResolution.x, i.x, d.w * 0.25, 1); }"
    )
    for r in renderers.values():
        img = r.render(golfed, Sampler(1).range(0, 1))[0].astype(int)
        assert abs(img[..., 1] - 128).max() <= 1 and abs(img[..., 2] - 64).max() <= 1
        assert img[0, -1, 0] > 245 and img[0, 0, 0] < 8


def test_opening_a_context_prints_nothing(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "from synpat.gen.renderer import gl_context; gl_context()"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
