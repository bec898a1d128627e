"""Wrap a Shadertoy "Image" program into a GLSL 4.30 compute or fragment shader.

Both stages share one prelude, so the same user code sees the same inputs:
Shadertoy's uniforms (iResolution, iTimeDelta, iMouse, iSampleRate, iChannel0-3,
iChannelResolution) and, per sample, iTime, iFrame, iDate, iChannelTime, iSeed (uint) and
iParams (vec4 in [0, 1)) read from an SSBO of two vec4 per sample:
    _sp_data[2i]   = iParams
    _sp_data[2i+1] = (iTime, uintBitsToFloat(iSeed), 0, 0)
The per-sample inputs are macros, not globals assigned in main(), so global initialisers that
use them (``float t = iTime * 2.;``) see the sample's value.

The user's code is compiled under ``#line 1 0`` (source string 0 = the user's file, lines as in
the file); our epilogue is source string 1, so compile errors map back to the user's lines.
Both stages write packed RGBA8 words into one SSBO, (N, H, W) in order, top row first: row r
of an image has ``fragCoord.y = H - r - 0.5``.
"""

from __future__ import annotations

import re

COMPUTE_GROUP = (8, 8)

_PRELUDE = """\
#version 430
{stage_header}
layout(std430, binding = 0) readonly buffer SynpatSamples {{ vec4 _sp_data[]; }};
uniform vec3 iResolution;
uniform float iTimeDelta;
uniform vec4 iMouse;
uniform float iSampleRate;
uniform vec3 iChannelResolution[4];
uniform sampler2D iChannel0;
uniform sampler2D iChannel1;
uniform sampler2D iChannel2;
uniform sampler2D iChannel3;
vec4 _sp_FragCoord;
{index_function}
#define iParams (_sp_data[2u * _sp_index()])
#define iTime (_sp_data[2u * _sp_index() + 1u].x)
#define iSeed floatBitsToUint(_sp_data[2u * _sp_index() + 1u].y)
#define iFrame int(iTime * 60.0)
#define iDate vec4(2026.0, 0.0, 1.0, iTime)
#define iChannelTime float[4](iTime, iTime, iTime, iTime)
#define iGlobalTime iTime
#define texture2D texture
#define texture2DLod textureLod
#define textureCube texture
"""

# Both stages write one packed RGBA8 word per pixel into the same SSBO layout: sample-major,
# top row first, (N, H, W). Sample i of a draw or dispatch is sample _sp_first + i of the batch.
_OUTPUT = "layout(std430, binding = 1) buffer SynpatPixels { uint _sp_pixels[]; };\nuniform uint _sp_first;"

_COMPUTE_HEADER = f"layout(local_size_x = {COMPUTE_GROUP[0]}, local_size_y = {COMPUTE_GROUP[1]}) in;\n" + _OUTPUT
_COMPUTE_INDEX = "uint _sp_index() { return _sp_first + gl_GlobalInvocationID.z; }"

# Fragment stage: the framebuffer (no attachments) is an atlas of tiles, one sample per tile,
# row-major from the bottom-left.
_FRAGMENT_HEADER = _OUTPUT + "\nuniform ivec2 _sp_tile;\nuniform int _sp_cols;\nuniform int _sp_count;"
_FRAGMENT_INDEX = "uint _sp_index() { ivec2 t = ivec2(gl_FragCoord.xy) / _sp_tile; " \
    "return _sp_first + uint(t.y * _sp_cols + t.x); }"

# Alpha carries the NaN/Inf flag: 1 for a finite pixel, 0 where the program produced NaN/Inf.
_FINISH = """
vec4 _sp_finish(vec4 c) {
    if (any(isnan(c.rgb)) || any(isinf(c.rgb))) return vec4(0.0);
    return vec4(clamp(c.rgb, 0.0, 1.0), 1.0);
}
uint _sp_pixel(uint x, uint row) {
    return (_sp_index() * uint(iResolution.y) + row) * uint(iResolution.x) + x;
}
"""

_COMPUTE_MAIN = _FINISH + """
void main() {
    uvec3 g = gl_GlobalInvocationID;
    if (g.x >= uint(iResolution.x) || g.y >= uint(iResolution.y)) return;
    vec2 fc = vec2(float(g.x), iResolution.y - 1.0 - float(g.y)) + 0.5;
    _sp_FragCoord = vec4(fc, 0.5, 1.0);
    vec4 c = vec4(0.0, 0.0, 0.0, 1.0);
    mainImage(c, fc);
    _sp_pixels[_sp_pixel(g.x, g.y)] = packUnorm4x8(_sp_finish(c));
}
"""

# Tiles start at even offsets (_sp_tile is the size rounded up to even), so 2x2 quads never
# straddle two samples; padding pixels run the program too (their quads' derivatives need them)
# but write nothing. A pixel the program discards stays 0.
_FRAGMENT_MAIN = _FINISH + """
void main() {
    ivec2 t = ivec2(gl_FragCoord.xy) / _sp_tile;
    if (t.x >= _sp_cols || t.y * _sp_cols + t.x >= _sp_count) return;
    vec2 fc = gl_FragCoord.xy - vec2(t * _sp_tile);
    bool inside = fc.x < iResolution.x && fc.y < iResolution.y;
    uint at = _sp_pixel(uint(fc.x), uint(iResolution.y) - 1u - uint(fc.y));
    if (inside) _sp_pixels[at] = 0u;
    _sp_FragCoord = vec4(fc, gl_FragCoord.zw);
    vec4 c = vec4(0.0, 0.0, 0.0, 1.0);
    mainImage(c, fc);
    if (inside) _sp_pixels[at] = packUnorm4x8(_sp_finish(c));
}
"""

FULLSCREEN_VERTEX = """\
#version 430
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

# Code a compute shader cannot run the same way: screen-space derivatives, implicit-LOD
# texture lookups (compute uses LOD 0) and discard.
_FRAGMENT_ONLY = re.compile(
    r"\b(dFdx|dFdy|fwidth|dFdxFine|dFdyFine|dFdxCoarse|dFdyCoarse|fwidthFine|fwidthCoarse"
    r"|texture|texture2D|textureCube|textureProj|textureOffset|discard)\b")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_VERSION_LINE = re.compile(r"^[ \t]*#[ \t]*version\b[^\n]*", re.M)


def strip_comments(source: str) -> str:
    """The source with comments blanked (newlines kept, so line numbers still hold)."""
    return _COMMENTS.sub(lambda m: "\n" * m.group(0).count("\n") + " ", source)


def fragment_only_reason(source: str) -> str | None:
    """Why this program must render on the fragment backend, or None when compute can run it."""
    m = _FRAGMENT_ONLY.search(strip_comments(source))
    if m is None:
        return None
    word = m.group(1)
    if word.startswith(("dFd", "fwidth")):
        return f"uses derivatives ({word})"
    if word == "discard":
        return "uses discard"
    return f"uses an implicit-LOD texture lookup ({word})"


def _user_block(source: str) -> str:
    # A pasted #version line would be a second one: blank it, keeping the line count.
    # `sample` is a keyword in desktop GLSL but a free name in GLSL ES; gl_FragCoord means the
    # sample's own pixel, not the atlas position.
    return ("#define sample _sp_user_sample\n#define gl_FragCoord _sp_FragCoord\n#line 1 0\n"
            + _VERSION_LINE.sub("", source)
            + "\n#line 1 1\n#undef sample\n#undef gl_FragCoord\n")


def compute_source(source: str) -> str:
    """The program as a GLSL 4.30 compute shader writing image layer z = sample z."""
    prelude = _PRELUDE.format(stage_header=_COMPUTE_HEADER, index_function=_COMPUTE_INDEX)
    return prelude + _user_block(source) + _COMPUTE_MAIN


def fragment_source(source: str) -> str:
    """The program as a GLSL 4.30 fragment shader rendering one atlas tile per sample."""
    prelude = _PRELUDE.format(stage_header=_FRAGMENT_HEADER, index_function=_FRAGMENT_INDEX)
    return prelude + _user_block(source) + _FRAGMENT_MAIN


# Mesa: "0:12(5): error: ..."; NVIDIA: "0(12) : error C0000: ..."
_LOG_LINE = re.compile(r"^\s*(\d+)[:(](\d+)\)?(?:\(\d+\))?\s*:\s*(.*)$")


def first_error(log: str, path: str) -> str:
    """One ``FILE:LINE: message`` line from a GLSL compiler log, in the user's file's lines."""
    fallback = None
    for raw in log.splitlines():
        m = _LOG_LINE.match(raw)
        if not m or "error" not in m.group(3).lower():
            continue
        string_no, line, message = int(m.group(1)), int(m.group(2)), m.group(3).strip()
        message = message.replace("_sp_user_sample", "sample").replace("_sp_FragCoord", "gl_FragCoord")
        if string_no == 0:
            return f"{path}:{line}: {message}"
        if "mainImage" in message or fallback is None:
            fallback = f"{path}: {message} (is there a `void mainImage(out vec4, in vec2)`?)" \
                if "mainImage" in message else f"{path}: {message}"
    if fallback:
        return fallback
    text = " ".join(l.strip() for l in log.splitlines() if l.strip() and not set(l.strip()) <= {"="})
    return f"{path}: {text or 'failed to compile'}"
