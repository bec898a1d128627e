"""Accept rate of synpat's program checks against a plain Shadertoy host, on a folder of programs.

The plain host is written here, independent of synpat.gen.glsl: a GLSL 3.30 core fragment
shader with Shadertoy's uniforms (iChannel0-3 as 2D noise), ``main()`` calling
``mainImage(colour, gl_FragCoord.xy)`` after the user's code, rendered into an RGBA8
framebuffer at the same iTime values synpat probes. The host "renders" a program when it
compiles and most of its images are not one colour. Then synpat's own decision
(synpat.gen.checks, the child process a run uses) is taken for the same programs.

    python benchmarks/shadertoy_compat.py FOLDER [--size 64] [--list]

Prints, per program the plain host renders but synpat rejects, synpat's reason, and a
summary line: accepted / plain-host-rendered, and compile failures on synpat's side only.
"""

from __future__ import annotations

import argparse
import sys

import moderngl
import numpy as np
from synpat.gen.checks import CheckSettings, check_programs
from synpat.gen.programs import find_programs
from synpat.gen.renderer import channel_texture_data, gl_context
from synpat.gen.sampler import Sampler

HOST_HEADER = """#version 330 core
uniform vec3 iResolution;
uniform float iTime;
uniform float iTimeDelta;
uniform int iFrame;
uniform vec4 iMouse;
uniform vec4 iDate;
uniform float iSampleRate;
uniform float iChannelTime[4];
uniform vec3 iChannelResolution[4];
uniform sampler2D iChannel0;
uniform sampler2D iChannel1;
uniform sampler2D iChannel2;
uniform sampler2D iChannel3;
out vec4 host_colour;
"""
HOST_MAIN = (
    "\nvoid main() { vec4 c = vec4(0.0, 0.0, 0.0, 1.0); mainImage(c, gl_FragCoord.xy); c.a = 1.0; host_colour = c; }\n"
)
VERTEX = """#version 330 core
void main() { vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2)); gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0); }
"""
PROBES = 8


def plain_host_images(ctx, source: str, size: int, times) -> np.ndarray | str:
    """-> (len(times), size, size, 3) uint8, or the compile error's first line."""
    body = "\n".join(l for l in source.splitlines() if not l.strip().startswith("#version"))
    try:
        prog = ctx.program(vertex_shader=VERTEX, fragment_shader=HOST_HEADER + "#line 1\n" + body + HOST_MAIN)
    except moderngl.Error as e:
        return next((l for l in str(e).splitlines() if "error" in l.lower()), str(e).strip())[:160]
    values = {"iResolution": (size, size, 1.0), "iTimeDelta": 1 / 60, "iMouse": (0.0,) * 4, "iSampleRate": 44100.0}
    for k, v in values.items():
        if k in prog:
            prog[k].value = v
    if "iChannelResolution" in prog:  # the driver may report a shorter array when only [0] is used
        res = prog["iChannelResolution"]
        res.value = [(256.0, 256.0, 1.0)] * res.array_length if res.array_length > 1 else (256.0, 256.0, 1.0)
    for unit in range(4):
        if f"iChannel{unit}" in prog:
            prog[f"iChannel{unit}"].value = unit
    fbo = ctx.simple_framebuffer((size, size), components=4)
    vao = ctx.vertex_array(prog, [])
    out = []
    for t in times:
        for k, v in (("iTime", float(t)), ("iFrame", int(t * 60)), ("iDate", (2026.0, 0.0, 1.0, float(t)))):
            if k in prog:
                prog[k].value = v
        if "iChannelTime" in prog:
            n = prog["iChannelTime"].array_length
            prog["iChannelTime"].value = [float(t)] * n if n > 1 else float(t)
        fbo.use()
        fbo.clear()
        vao.render(moderngl.TRIANGLES, vertices=3)
        out.append(np.frombuffer(fbo.read(components=3), np.uint8).reshape(size, size, 3))
    return np.stack(out)


def non_constant(images: np.ndarray) -> bool:
    spread = (images.reshape(len(images), -1, 3).max(1).astype(int) - images.reshape(len(images), -1, 3).min(1)).max(1)
    return (spread > 2).sum() * 2 > len(images)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--list", action="store_true", help="print every program's two outcomes")
    args = ap.parse_args(argv)
    programs = find_programs([args.folder])
    ctx = gl_context()
    tex = ctx.texture((256, 256), 4, channel_texture_data().tobytes())
    tex.repeat_x = tex.repeat_y = True
    for unit in range(4):
        tex.use(location=unit)
    times = Sampler(1, seed=0x5EED).range(0, PROBES).time
    host = {p.name: plain_host_images(ctx, p.source, args.size, times) for p in programs}
    reasons = check_programs(programs, CheckSettings(args.size, args.size))
    rendered = accepted = ours_only = 0
    for p, reason in zip(programs, reasons):
        h = host[p.name]
        host_ok = not isinstance(h, str) and non_constant(h)
        rendered += host_ok
        accepted += host_ok and reason is None
        ours_only += not isinstance(h, str) and reason is not None and "error" in reason  # compiled there only
        if args.list or (host_ok and reason is not None):
            print(
                f"{p.name}: plain host {'renders' if host_ok else (h if isinstance(h, str) else 'constant')}; "
                f"synpat {'accepts' if reason is None else reason}"
            )
    print(
        f"{len(programs)} programs: plain host renders {rendered} non-constant; synpat accepts "
        f"{accepted} of them ({100 * accepted / max(rendered, 1):.1f}%), and "
        f"{sum(r is None for r in reasons)} in all; compile errors on synpat's side only: {ours_only}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
