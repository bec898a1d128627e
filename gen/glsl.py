"""Wrap a Shadertoy "Image" program into a GLSL 4.30 compute or fragment shader.

Layout of the wrapped shader, as three source strings so compile errors map to their origin:
    string 1  our prelude: inputs, helpers and main(), which calls _sp_main (declared only)
    string 0  the user's file, lines as in the file
    string 2  one line defining _sp_main(c, fc) as ``mainImage(c, fc);``
All our code precedes the user's, so no ``#define`` of theirs can reach it; only the call to
mainImage follows it, under their macros, as on Shadertoy, so a golfed
``#define mainImage(O, U) ...`` expands there.

Shadertoy's inputs are real declarations: uniforms (iResolution, iTimeDelta, iMouse,
iSampleRate, iChannel0-3, iChannelResolution) and globals initialised per sample (iTime,
iFrame, iDate, iChannelTime, iGlobalTime, and synpat's iSeed (uint) and iParams (vec4 in
[0, 1))) from an SSBO of two vec4 per sample:
    _sp_data[2i]   = iParams
    _sp_data[2i+1] = (iTime, uintBitsToFloat(iSeed), 0, 0)
Global initialisers run in declaration order before main's body, so the user's own
(``float t = iTime * 2.;``) see the sample's value; a user may shadow, redefine or wrap them.
Names that are free in GLSL 3.30 but keywords in 4.30 (``sample``, ``shared``, ``buffer``, ...)
are renamed in the user's code, as is gl_FragCoord (the sample's pixel, not the atlas position).

Channels are 2D by default; ``channels`` makes one a ``samplerCube`` or ``sampler3D``.
Both stages write packed RGBA8 words into one SSBO, (N, H, W) in order, top row first: row r
of an image has ``fragCoord.y = H - r - 0.5``. A NaN channel is written as 0 and +-Inf clamps,
as a GPU writes them into an RGBA8 target; alpha counts the channels that were NaN: 255, 170,
85 or 0 for 0, 1, 2 or 3 of them (a clamped Inf is a well-defined colour on every GPU, a NaN is
not). A pixel the program discards is opaque black, as a cleared Shadertoy target shows it.

A ``// kind: splat`` program (a line of the comments that open it) draws points: its ``splatStep`` runs in a
compute shader of its own (splat_source: box and point passes into a density buffer), and its
mainImage, wrapped as above with ``splatPixel`` added, resolves the density into the image; see
the splat notes below.
"""

from __future__ import annotations

import re

COMPUTE_GROUP = (8, 8)
CHANNEL_TYPES = {"2d": "sampler2D", "cube": "samplerCube", "3d": "sampler3D"}
DEFAULT_CHANNELS = ("2d", "2d", "2d", "2d")

# Our code's lines are numbered from PART_LINES x its string number (1 prelude, 2 the call of
# mainImage, 3 a splat program's point passes) as well as given that string number, since Mesa
# reports every error in string 0: a line past PART_LINES is ours whatever the string says.
PART_LINES = 1_000_000


def line_directive(part: int) -> str:
    """The #line directive that starts part 1-3 of our code (PART_LINES above)."""
    return f"#line {part * PART_LINES + 1} {part}"


_PRELUDE = """\
#version 430
{extensions}{prelude_line}
{stage_header}
layout(std430, binding = 0) readonly buffer SynpatSamples {{ vec4 _sp_data[]; }};
uniform vec3 iResolution;
uniform float iTimeDelta;
uniform vec4 iMouse;
uniform float iSampleRate;
uniform vec3 iChannelResolution[4];
{channels}
{index_function}
vec4 iParams = _sp_data[2u * _sp_index()];
float iTime = _sp_data[2u * _sp_index() + 1u].x;
uint iSeed = floatBitsToUint(_sp_data[2u * _sp_index() + 1u].y);
int iFrame = int(iTime * 60.0);
vec4 iDate = vec4(2026.0, 0.0, 1.0, iTime);
float iChannelTime[4] = float[4](iTime, iTime, iTime, iTime);
float iGlobalTime = iTime;
{splat}vec4 _sp_finish(vec4 c) {{
    bvec3 nan = isnan(c.rgb);
    return vec4(mix(clamp(c.rgb, 0.0, 1.0), vec3(0.0), nan), 1.0 - dot(vec3(nan), vec3(1.0 / 3.0)));
}}
uint _sp_pixel(uint x, uint row) {{
    return (_sp_index() * uint(iResolution.y) + row) * uint(iResolution.x) + x;
}}
void _sp_main(inout vec4 c, vec2 fc);
{main}{compat}"""

# Both stages write one packed RGBA8 word per pixel into the same SSBO layout: sample-major,
# top row first, (N, H, W). Sample i of a draw or dispatch is sample _sp_first + i of the batch.
_OUTPUT = "layout(std430, binding = 1) buffer SynpatPixels { uint _sp_pixels[]; };\nuniform uint _sp_first;"

_COMPUTE_HEADER = f"layout(local_size_x = {COMPUTE_GROUP[0]}, local_size_y = {COMPUTE_GROUP[1]}) in;\n" + _OUTPUT
_COMPUTE_INDEX = """uint _sp_index() { return _sp_first + gl_GlobalInvocationID.z; }
vec4 _sp_kw_gl_FragCoord = vec4(float(gl_GlobalInvocationID.x) + 0.5,
                          iResolution.y - 0.5 - float(gl_GlobalInvocationID.y), 0.5, 1.0);"""
_COMPUTE_MAIN = """void main() {
    uvec3 g = gl_GlobalInvocationID;
    if (g.x >= uint(iResolution.x) || g.y >= uint(iResolution.y)) return;
    vec4 c = vec4(0.0, 0.0, 0.0, 1.0);
    _sp_main(c, _sp_kw_gl_FragCoord.xy);
    _sp_pixels[_sp_pixel(g.x, g.y)] = packUnorm4x8(_sp_finish(c));
}
"""

# Fragment stage: the framebuffer (no attachments) is an atlas of tiles, one sample per tile,
# row-major from the bottom-left.
_FRAGMENT_HEADER = _OUTPUT + "\nuniform ivec2 _sp_tile;\nuniform int _sp_cols;\nuniform int _sp_count;"
_FRAGMENT_INDEX = """uint _sp_index() { ivec2 t = ivec2(gl_FragCoord.xy) / _sp_tile;
    return _sp_first + uint(t.y * _sp_cols + t.x); }
vec4 _sp_kw_gl_FragCoord = vec4(gl_FragCoord.xy - vec2((ivec2(gl_FragCoord.xy) / _sp_tile) * _sp_tile), gl_FragCoord.zw);"""
# Tiles start at even offsets (_sp_tile is the size rounded up to even), so 2x2 quads never
# straddle two samples; padding pixels run the program too (their quads' derivatives need them)
# but write nothing. A pixel the program discards stays opaque black.
_FRAGMENT_MAIN = """void main() {
    ivec2 t = ivec2(gl_FragCoord.xy) / _sp_tile;
    if (t.x >= _sp_cols || t.y * _sp_cols + t.x >= _sp_count) return;
    vec2 fc = _sp_kw_gl_FragCoord.xy;
    bool inside = fc.x < iResolution.x && fc.y < iResolution.y;
    uint at = _sp_pixel(uint(fc.x), uint(iResolution.y) - 1u - uint(fc.y));
    if (inside) _sp_pixels[at] = 0xFF000000u;
    vec4 c = vec4(0.0, 0.0, 0.0, 1.0);
    _sp_main(c, fc);
    if (inside) _sp_pixels[at] = packUnorm4x8(_sp_finish(c));
}
"""

_EPILOGUE = "\n" + line_directive(2) + "\nvoid _sp_main(inout vec4 _sp_c, vec2 _sp_fc) { mainImage(_sp_c, _sp_fc); }\n"

# -- splat programs ---------------------------------------------------------------------------
#
# A ``// kind: splat`` program scatters points before its image is resolved. Per sample:
#   1. box pass   SPLAT_BOX_CHAINS chains of SPLAT_BOX_STEPS points (after the burn-in) find the
#                 attractor's bounding box (atomicMin/Max on order-preserving integer keys).
#   2. point pass chains of SPLAT_STEPS points each, SPLAT_POINTS_PER_PIXEL x W x H points in all
#                 (at most SPLAT_MAX_POINTS); each point's pixel in the box (centred, aspect kept,
#                 SPLAT_MARGIN each side) gets atomicAdd'ed: hits and its colour's 8-bit RGB sums.
#   3. resolve    mainImage, wrapped as for any program (compute or fragment), reads the density
#                 through splatPixel(fragCoord).
# Chain c of a sample starts at (0, 0) with its own random state from (iSeed, c) and skips
# SPLAT_BURN_IN steps; the box pass repeats the first chains' steps. Integer atomics only, so
# the bytes do not depend on the order the GPU runs the chains in.
KINDS = ("image", "splat", "sound")  # sound: a file defining mainSound (synpat.gen.sound_glsl)
SPLAT_POINTS_PER_PIXEL = 1.0  # 50,176 points at 224x224 (FractalDB: 100,000 points at 512x512)
SPLAT_MAX_POINTS = 1 << 24  # hits x 255 fit a uint: the colour sums cannot overflow
SPLAT_STEPS = 256  # points per chain (one invocation)
SPLAT_BURN_IN = 32  # steps a chain takes before its first point counts
SPLAT_BOX_CHAINS = 64
SPLAT_BOX_STEPS = 64
SPLAT_MARGIN = 0.04  # of the image's smaller side, each side of the attractor's box
SPLAT_GROUP = 64  # invocations (chains) per work group of the box and point passes
SPLAT_WORDS = 4  # per pixel: hits, R, G, B sums
SPLAT_BOX_WORDS = 8  # per sample: x0, y0, x1, y1 keys, largest hits, 3 unused

# Random numbers for splatStep: splatRandom(rng) -> [0, 1), advancing the chain's state.
_SPLAT_RANDOM = """uint _sp_hash(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float splatRandom(inout uint state) { state = _sp_hash(state); return float(state >> 8u) * (1.0 / 16777216.0); }
"""

# Declarations shared by the passes and the resolve: slot = the sample's place in the density
# buffer, (slots, H, W, 4) uint; rows bottom-up, as fragCoord.
_SPLAT_SHARED = (
    _SPLAT_RANDOM
    + """layout(std430, binding = 2) buffer SynpatDensity { uint _sp_density[]; };
layout(std430, binding = 3) coherent buffer SynpatBox { uint _sp_box[]; };   // coherent: the largest-hits test reads fresh values
uniform uint _sp_splat_first;
uint _sp_slot() { return _sp_index() - _sp_splat_first; }
vec4 splatPixel(vec2 fragCoord) {
    ivec2 q = ivec2(floor(fragCoord));
    ivec2 res = ivec2(iResolution.xy);
    if (q.x < 0 || q.y < 0 || q.x >= res.x || q.y >= res.y) return vec4(0.0);
    uint i = %(words)du * ((_sp_slot() * uint(res.y) + uint(q.y)) * uint(res.x) + uint(q.x));
    uint hits = _sp_density[i];
    if (hits == 0u) return vec4(0.0);
    float top = float(_sp_box[%(box_words)du * _sp_slot() + 4u]);
    vec3 mean = vec3(_sp_density[i + 1u], _sp_density[i + 2u], _sp_density[i + 3u]) / (255.0 * float(hits));
    return vec4(mean, log(1.0 + float(hits)) / log(1.0 + top));
}
"""
    % {"words": SPLAT_WORDS, "box_words": SPLAT_BOX_WORDS}
)

_SPLAT_MAIN = "void _sp_points();\nvoid main() { _sp_points(); }\n"

# The point passes follow the user's code (their splatStep), as string 3.
_SPLAT_POINTS = """
%(line)s
uniform uint _sp_phase;    // 0: box pass, 1: point pass
uniform uint _sp_chains;   // chains per sample in the point pass
uint _sp_key(float f) { uint u = floatBitsToUint(f); return (u & 0x80000000u) != 0u ? ~u : u | 0x80000000u; }
float _sp_unkey(uint k) { return uintBitsToFloat((k & 0x80000000u) != 0u ? k & 0x7FFFFFFFu : ~k); }
void _sp_points() {
    uint chain = gl_GlobalInvocationID.x;
    if (chain >= (_sp_phase == 0u ? %(box_chains)du : _sp_chains)) return;
    uint rng = _sp_hash(_sp_hash(iSeed) + chain);
    vec2 p = vec2(0.0);
    vec3 colour;
    for (int i = 0; i < %(burn_in)d; i++) p = splatStep(rng, p, colour);
    uint box = %(box_words)du * _sp_slot();
    if (_sp_phase == 0u) {
        uvec4 k = uvec4(0xFFFFFFFFu, 0xFFFFFFFFu, 0u, 0u);
        for (int i = 0; i < %(box_steps)d; i++) {
            p = splatStep(rng, p, colour);
            if (any(isnan(p)) || any(isinf(p))) continue;
            uvec2 kp = uvec2(_sp_key(p.x), _sp_key(p.y));
            k = uvec4(min(k.xy, kp), max(k.zw, kp));
        }
        atomicMin(_sp_box[box], k.x); atomicMin(_sp_box[box + 1u], k.y);
        atomicMax(_sp_box[box + 2u], k.z); atomicMax(_sp_box[box + 3u], k.w);
        return;
    }
    if (_sp_box[box] > _sp_box[box + 2u]) return;   // the box pass saw no finite point
    vec2 lo = vec2(_sp_unkey(_sp_box[box]), _sp_unkey(_sp_box[box + 1u]));
    vec2 hi = vec2(_sp_unkey(_sp_box[box + 2u]), _sp_unkey(_sp_box[box + 3u]));
    vec2 mid = 0.5 * lo + 0.5 * hi;
    float span = max(max(hi.x - lo.x, hi.y - lo.y), 1e-30);
    float scale = min(iResolution.x, iResolution.y) * %(fill)r / span;
    ivec2 res = ivec2(iResolution.xy);
    uint image = _sp_slot() * uint(res.x * res.y);
    for (int i = 0; i < %(steps)d; i++) {
        p = splatStep(rng, p, colour);
        vec2 f = floor((p - mid) * scale + 0.5 * iResolution.xy);
        if (!(f.x >= 0.0 && f.y >= 0.0 && f.x < iResolution.x && f.y < iResolution.y)) continue;   // NaN too
        uint at = %(words)du * (image + uint(f.y) * uint(res.x) + uint(f.x));
        uvec3 c = uvec3(round(255.0 * mix(clamp(colour, 0.0, 1.0), vec3(0.0), isnan(colour))));
        uint hits = atomicAdd(_sp_density[at], 1u) + 1u;
        atomicAdd(_sp_density[at + 1u], c.r);
        atomicAdd(_sp_density[at + 2u], c.g);
        atomicAdd(_sp_density[at + 3u], c.b);
        if (hits > _sp_box[box + 4u]) atomicMax(_sp_box[box + 4u], hits);
    }
}
""" % {
    "box_chains": SPLAT_BOX_CHAINS,
    "burn_in": SPLAT_BURN_IN,
    "box_steps": SPLAT_BOX_STEPS,
    "steps": SPLAT_STEPS,
    "line": line_directive(3),
    "fill": 1.0 - 2.0 * SPLAT_MARGIN,
    "words": SPLAT_WORDS,
    "box_words": SPLAT_BOX_WORDS,
}

_SPLAT_COMPUTE_HEADER = f"layout(local_size_x = {SPLAT_GROUP}) in;\n" + _OUTPUT

# GLSL ES / legacy names Shadertoy code still uses; each is defined unless the user defines it.
_COMPAT = {
    "texture2D": "texture",
    "texture2DLod": "textureLod",
    "texture2DLodEXT": "textureLod",
    "texture2DGradEXT": "textureGrad",
    "textureCube": "texture",
    "textureCubeLod": "textureLod",
    "texture3D": "texture",
}

# Free names in GLSL 3.30 (Shadertoy programs use them) that GLSL 4.30 reserves, and
# gl_FragCoord, which must be the sample's own pixel.
_RENAMED = (
    "sample",
    "patch",
    "subroutine",
    "precise",
    "shared",
    "buffer",
    "coherent",
    "restrict",
    "readonly",
    "writeonly",
    "atomic_uint",
    "gl_FragCoord",
)
_RENAME = re.compile(r"\b(" + "|".join(_RENAMED) + r")\b")
_RENAMED_BACK = re.compile(r"_sp_kw_(\w+)")

FULLSCREEN_VERTEX = """\
#version 430
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

# Code a compute shader cannot run: screen-space derivatives and discard. (Texture lookups with
# an implicit LOD stay on compute: the channel textures have no mipmaps, so LOD 0 is exact.)
_FRAGMENT_ONLY = re.compile(
    r"\b(dFdx|dFdy|fwidth|dFdxFine|dFdyFine|dFdxCoarse|dFdyCoarse|fwidthFine|fwidthCoarse|discard)\b"
)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_VERSION_LINE = re.compile(r"^[ \t]*#[ \t]*version\b[^\n]*", re.M)
_EXTENSION_LINE = re.compile(r"^[ \t]*#[ \t]*extension\b[^\n]*", re.M)
_DEFINED = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)", re.M)
_CHANNELS_COMMENT = re.compile(r"//[ \t]*channels[ \t]*:([^\n]*)")


def strip_comments(source: str) -> str:
    """The source with comments blanked (newlines kept, so line numbers still hold)."""
    return _COMMENTS.sub(lambda m: "\n" * m.group(0).count("\n") + " ", source)


def fragment_only_reason(source: str) -> str | None:
    """Why this program must render on the fragment backend, or None when compute can run it."""
    m = _FRAGMENT_ONLY.search(strip_comments(source))
    if m is None:
        return None
    return "uses discard" if m.group(1) == "discard" else f"uses derivatives ({m.group(1)})"


def declared_channels(source: str) -> tuple[str, ...] | None:
    """Channel types from a ``// channels: cube 2d 3d`` comment (iChannel0, 1, ... in order;
    2d, cube or 3d), padded with 2d; None without one. Raises ValueError naming a bad word."""
    m = _CHANNELS_COMMENT.search(source)
    if m is None:
        return None
    words = m.group(1).lower().replace(",", " ").split()
    bad = [w for w in words if w not in CHANNEL_TYPES] + (["(more than 4)"] if len(words) > 4 else [])
    if bad:
        raise ValueError(f"`// channels:` expects up to four of 2d, cube, 3d (iChannel0 first), got '{bad[0]}'")
    return tuple(words) + DEFAULT_CHANNELS[len(words) :]


def user_block(source: str, epilogue: str = _EPILOGUE) -> str:
    """The user's code as string 0 (our renames applied), then ``epilogue`` (string 2: the call of
    the entry point)."""
    # A pasted #version line would be a second one and #extension must precede all code: blank
    # them (the extensions go to the top), keeping the line count.
    source = _EXTENSION_LINE.sub("", _VERSION_LINE.sub("", source))
    return "#line 1 0\n" + _RENAME.sub(r"_sp_kw_\1", source) + epilogue


def extensions_and_compat(source: str) -> tuple[str, str]:
    """(the user's #extension lines, moved to the top; #defines of the legacy names it does not define)."""
    defined = set(_DEFINED.findall(source))
    compat = "".join(f"#define {k} {v}\n" for k, v in _COMPAT.items() if k not in defined)
    extensions = "".join(m.group(0).strip() + "\n" for m in _EXTENSION_LINE.finditer(strip_comments(source)))
    return extensions, compat


def _wrap(
    source: str, header: str, index: str, main: str, channels: tuple[str, ...], splat: bool = False, tail: str = ""
) -> str:
    extensions, compat = extensions_and_compat(source)
    samplers = "\n".join(f"uniform {CHANNEL_TYPES[t]} iChannel{i};" for i, t in enumerate(channels))
    return (
        _PRELUDE.format(
            extensions=extensions,
            prelude_line=line_directive(1),
            stage_header=header,
            channels=samplers,
            index_function=index,
            main=main,
            compat=compat,
            splat=_SPLAT_SHARED if splat else "",
        )
        + user_block(source)
        + tail
    )


def compute_source(source: str, channels: tuple[str, ...] = DEFAULT_CHANNELS, splat: bool = False) -> str:
    """The program as a GLSL 4.30 compute shader writing image layer z = sample z (for a splat
    program: its resolve, reading the density through splatPixel)."""
    return _wrap(source, _COMPUTE_HEADER, _COMPUTE_INDEX, _COMPUTE_MAIN, channels, splat)


def fragment_source(source: str, channels: tuple[str, ...] = DEFAULT_CHANNELS, splat: bool = False) -> str:
    """The program as a GLSL 4.30 fragment shader rendering one atlas tile per sample."""
    return _wrap(source, _FRAGMENT_HEADER, _FRAGMENT_INDEX, _FRAGMENT_MAIN, channels, splat)


def splat_source(source: str, channels: tuple[str, ...] = DEFAULT_CHANNELS) -> str:
    """A splat program's box and point passes as one GLSL 4.30 compute shader: x = chain,
    z = sample; the uniform _sp_phase picks the pass."""
    return _wrap(source, _SPLAT_COMPUTE_HEADER, _COMPUTE_INDEX, _SPLAT_MAIN, channels, True, _SPLAT_POINTS)


_SPLAT_STEP = re.compile(r"\bsplatStep[ \t\n]*\(")
# a definition or declaration of mainSound, whatever type it returns: one returning float is a sound
# program with a wrong return type, which its compile error names
_MAIN_SOUND = re.compile(r"\b(?!return\b)\w+\s+mainSound\s*\(")
_MAIN_IMAGE = re.compile(r"\bmainImage\b")
_KIND_COMMENT = re.compile(r"//[ \t]*kind[ \t]*:[ \t]*(.*?)[ \t]*$", re.I)  # `// kind: splat` (any case)


_LEADING_COMMENT = re.compile(r"\s*(//[^\n]*|/\*.*?\*/)", re.S)


def _header(source: str) -> list[str]:
    """The ``//`` comment lines that open a file, before its first line of code (``/* */`` blocks,
    such as a licence, may stand among them)."""
    lines, pos = [], 0
    while m := _LEADING_COMMENT.match(source, pos):
        if m.group(1).startswith("//"):
            lines.append(m.group(1).strip())
        pos = m.end()
    return lines


def check_text(source: str) -> None:
    """Raise ValueError naming the line of a NUL byte: such a file is binary (or UTF-16 without its
    byte order mark), not GLSL text, and a compiler would stop at the NUL with a misleading error."""
    at = source.find("\0")
    if at >= 0:
        raise ValueError(
            f"line {source.count(chr(10), 0, at) + 1}: a NUL byte; expected GLSL text "
            "(UTF-8, UTF-16 with a byte order mark, or Latin-1), not a binary file"
        )


def program_kind(source: str) -> str:
    """``image`` (a Shadertoy program), ``sound`` (a file that defines ``vec2 mainSound(...)``), or
    what a ``// kind: NAME`` line among the comment lines that open the file says (any case; further
    down it is an ordinary comment); raises ValueError naming a kind that is not one of KINDS, a
    splat program without splatStep or a sound program without mainSound."""
    m = next(filter(None, (_KIND_COMMENT.fullmatch(line) for line in _header(source))), None)
    kind = m.group(1).lower() if m else "sound" if _MAIN_SOUND.search(strip_comments(source)) else "image"
    if kind not in KINDS:
        raise ValueError(f"`// kind:` expects one of {', '.join(KINDS)}, got '{m.group(1)}'")
    if kind == "splat" and not _SPLAT_STEP.search(strip_comments(source)):
        raise ValueError(
            "a `// kind: splat` program defines `vec2 splatStep(inout uint rng, vec2 p, out vec3 colour)`; none found"
        )
    if kind == "sound" and not _MAIN_SOUND.search(strip_comments(source)):
        raise ValueError(
            "a `// kind: sound` program defines `vec2 mainSound(int samp, float time)` "
            "or `vec2 mainSound(float time)`; none found"
        )
    return kind


def has_entry(source: str) -> bool:
    """The program names mainImage or defines mainSound; an empty file, or one of helpers only, does
    neither, so it counts for no kind (the checks reject it with their reason)."""
    text = strip_comments(source)
    return bool(_MAIN_IMAGE.search(text) or _MAIN_SOUND.search(text))


# Mesa: "0:12(5): error: ..."; NVIDIA: "0(12) : error C0000: ..."
_LOG_LINE = re.compile(r"^\s*(\d+)[:(](\d+)\)?(?:\(\d+\))?\s*:\s*(.*)$")


def _errors(log: str):
    """-> (source string, line, message) of each error in a compiler log, our names undone."""
    for raw in log.splitlines():
        m = _LOG_LINE.match(raw)
        if m and "error" in m.group(3).lower():
            message = _RENAMED_BACK.sub(r"\1", m.group(3).strip())
            yield int(m.group(1)), int(m.group(2)), message


def _part(string_no: int, line: int) -> tuple[int, int]:
    """(part: 0 the user's code, 1-3 ours, line within it) of a compiler log's location."""
    if string_no == 0 and line > PART_LINES:
        return line // PART_LINES, line % PART_LINES
    return string_no, line % PART_LINES


def first_error(
    log: str, path: str, source: str | None = None, entry: str = "void mainImage(out vec4, in vec2)"
) -> str:
    """One ``FILE:LINE: message`` line from a GLSL compiler log, in the user's file's lines; an
    error in synpat's own code says so, and one past the end of ``source`` (an empty file) says that.
    ``entry``: the function the call in string 2 expects, named when that call fails."""
    fallback = None
    for string_no, line, message in _errors(log):
        string_no, line = _part(string_no, line)
        if string_no == 0 and source is not None and line > len(source.splitlines()):
            lines = len(source.splitlines())
            what = "empty" if not source.strip() else f"{lines} line{'s' * (lines != 1)}"
            return f"{path}: {message} (after the end of the file, which is {what})"
        if string_no == 0:
            return f"{path}:{line}: {message}"
        if fallback is None and string_no == 2 and source is not None and not source.strip():
            fallback = f"{path}: {message} (after the end of the file, which is empty)"
        elif fallback is None and string_no == 2:
            fallback = f"{path}: {message} (in the call of {entry.split('(')[0].split()[-1]}: is there a `{entry}`?)"
        elif fallback is None and string_no == 3:
            fallback = (
                f"{path}: {message} (in the point pass of a `// kind: splat` program: is there a "
                "`vec2 splatStep(inout uint rng, vec2 p, out vec3 colour)`?)"
            )
        elif fallback is None:
            fallback = f"{path}: error in synpat's wrapper around this program (prelude line {line}): {message}"
    if fallback:
        return fallback
    text = " ".join(l.strip() for l in log.splitlines() if l.strip() and not set(l.strip()) <= {"="})
    return f"{path}: {text or 'failed to compile'}"


_CHANNEL_USE = re.compile(r"\biChannel([0-3])\b")


def guess_channels(log: str, source: str, channels: tuple[str, ...]) -> tuple[str, ...] | None:
    """Channel types to try after a failed compile whose first error, on a user's line that names
    iChannelN, involves a sampler (``texture(sampler2D, vec3)``): a 2D channel there becomes a
    cube, a cube becomes 3D. None when the error is not of that kind (or nothing is left to try)."""
    lines = strip_comments(source).splitlines()
    for string_no, line, message in _errors(log):
        if string_no != 0 or "sampler" not in message or not 1 <= line <= len(lines):
            return None
        for n in _CHANNEL_USE.findall(lines[line - 1]):
            i = int(n)
            step = {"2d": "cube", "cube": "3d"}.get(channels[i])
            if step:
                return channels[:i] + (step,) + channels[i + 1 :]
        return None
    return None
