"""Wrap a Shadertoy sound program (``vec2 mainSound(int samp, float time)``, or the older
``vec2 mainSound(float time)``) into a GLSL 4.30 compute or fragment shader.

The same three source strings as image programs (synpat.gen.glsl), so compile errors map to the
user's lines the same way: string 1 our prelude, string 0 the user's file, string 2 one line
defining ``_sp_sound(samp, time)`` as the call of their mainSound (either signature).

Inputs per clip from the SSBO of two vec4 per clip that image programs read:
    _sp_data[2i]   = iParams
    _sp_data[2i+1] = (iTime, uintBitsToFloat(iSeed), 0, 0)
iTime is the clip's start time; uniform iSampleRate. Sample s of a clip is global sample
``samp = round(iTime x iSampleRate) + s`` at ``time = samp / iSampleRate``, so a program sees the
same time axis Shadertoy plays it on.

Output: float32 into one SSBO, clip-major, (N, C, S): C = 1 is the mono mixdown (L + R) / 2,
C = 2 keeps L and R. Values are written as the program returns them (NaN and beyond [-1, 1]
included); synpat.gen.sound_renderer measures, then clips them.
  compute  x, y = sample within the clip (groups of SOUND_GROUP along x, rows of x groups along y:
           a clip longer than GL's largest x count of groups times SOUND_GROUP takes several rows),
           z = clip.
  fragment pixels are samples: pixel (x, y) of the atlas is sample y x width + x of the draw,
           clip = that / S.
"""

from __future__ import annotations

import re

from . import glsl

SOUND_GROUP = 64
# time = float(samp) / iSampleRate in float32 is the sample's time to within half a sample while
# samp < 2^23 (past it the time axis steps by two samples and more, then stands still)
EXACT_SAMPLES = 1 << 23
CHANNELS = (1, 2)
_TWO_ARGS = re.compile(r"\b(?!return\b)\w+\s+mainSound\s*\(\s*(?:in\s+)?int\b")
_ONE_ARG = re.compile(r"\b(?!return\b)\w+\s+mainSound\s*\(\s*(?:in\s+)?float\b")
ENTRY = "vec2 mainSound(int samp, float time)"

_PRELUDE = """\
#version 430
{extensions}{prelude_line}
{stage_header}
layout(std430, binding = 0) readonly buffer SynpatSamples {{ vec4 _sp_data[]; }};
layout(std430, binding = 1) writeonly buffer SynpatWaves {{ float _sp_waves[]; }};
uniform uint _sp_first;      // the draw's first clip in the output
uniform uint _sp_length;     // samples per clip (S)
uniform uint _sp_channels;   // 1: mono mixdown, 2: stereo
uniform float iSampleRate;
uniform vec3 iResolution;
uniform vec4 iMouse;
{index_function}
vec4 iParams = _sp_data[2u * _sp_clip()];
float iTime = _sp_data[2u * _sp_clip() + 1u].x;
uint iSeed = floatBitsToUint(_sp_data[2u * _sp_clip() + 1u].y);
int iFrame = int(iTime * 60.0);
vec4 iDate = vec4(2026.0, 0.0, 1.0, iTime);
float iGlobalTime = iTime;
vec2 _sp_sound(int samp, float time);
void _sp_write(uint clip, uint s) {{
    int samp = int(round(iTime * iSampleRate)) + int(s);
    vec2 v = _sp_sound(samp, float(samp) / iSampleRate);
    if (_sp_channels == 1u) {{
        _sp_waves[clip * _sp_length + s] = 0.5 * (v.x + v.y);
    }} else {{
        _sp_waves[(2u * clip) * _sp_length + s] = v.x;
        _sp_waves[(2u * clip + 1u) * _sp_length + s] = v.y;
    }}
}}
{main}{compat}"""

_COMPUTE_HEADER = f"layout(local_size_x = {SOUND_GROUP}) in;"
_COMPUTE_INDEX = "uint _sp_clip() { return _sp_first + gl_GlobalInvocationID.z; }"
_COMPUTE_MAIN = """void main() {
    uint s = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
    if (s >= _sp_length) return;
    _sp_write(_sp_clip(), s);
}
"""

# Fragment stage: a framebuffer without attachments, _sp_width pixels a row; the draw covers
# _sp_count clips of _sp_length samples from the bottom row up.
_FRAGMENT_HEADER = "uniform uint _sp_width;\nuniform uint _sp_count;"
_FRAGMENT_INDEX = """uint _sp_global() { return uint(gl_FragCoord.y) * _sp_width + uint(gl_FragCoord.x); }
uint _sp_clip() { return _sp_first + _sp_global() / _sp_length; }"""
_FRAGMENT_MAIN = """void main() {
    uint g = _sp_global();
    if (g >= _sp_count * _sp_length) return;
    _sp_write(_sp_clip(), g % _sp_length);
}
"""


def compute_groups(length: int, max_x: int) -> tuple[int, int]:
    """The (x, y) work groups that cover ``length`` samples of a clip, x at most ``max_x`` (the GL
    device's GL_MAX_COMPUTE_WORK_GROUP_COUNT[0], 65535 on most): one row while it is enough."""
    groups = -(-int(length) // SOUND_GROUP)
    x = max(1, min(groups, int(max_x)))
    return x, -(-groups // x)


def signature(source: str) -> int:
    """How many arguments the program's mainSound takes: 2 (``int samp, float time``) or 1
    (``float time``); 2 when neither is found (the compile error then names the expected one)."""
    text = glsl.strip_comments(source)
    return 1 if _ONE_ARG.search(text) and not _TWO_ARGS.search(text) else 2


def _epilogue(source: str) -> str:
    call = "mainSound(samp, time)" if signature(source) == 2 else "mainSound(time)"
    return f"\n{glsl.line_directive(2)}\nvec2 _sp_sound(int samp, float time) {{ return {call}; }}\n"


def _wrap(source: str, header: str, index: str, main: str) -> str:
    extensions, compat = glsl.extensions_and_compat(source)
    return _PRELUDE.format(
        extensions=extensions,
        prelude_line=glsl.line_directive(1),
        stage_header=header,
        index_function=index,
        main=main,
        compat=compat,
    ) + glsl.user_block(source, _epilogue(source))


def compute_source(source: str) -> str:
    """The sound program as a compute shader: x = sample within the clip, z = clip."""
    return _wrap(source, _COMPUTE_HEADER, _COMPUTE_INDEX, _COMPUTE_MAIN)


def fragment_source(source: str) -> str:
    """The sound program as a fragment shader whose pixels are samples (module notes)."""
    return _wrap(source, _FRAGMENT_HEADER, _FRAGMENT_INDEX, _FRAGMENT_MAIN)


def first_error(log: str, path: str, source: str) -> str:
    """One ``FILE:LINE: message`` line (synpat.gen.glsl.first_error, naming mainSound)."""
    return glsl.first_error(log, path, source, entry=ENTRY)
