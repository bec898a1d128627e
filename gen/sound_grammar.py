"""A procedural grammar of sound programs: ``procedural-sound:N[@SEED]`` -> N distinct mainSound programs.

A program sums one to three layers; each layer is drawn from typed blocks:
  source    (f0, phase time, note time, seed) -> [-1, 1]   harmonic partials (k^-gamma, inharmonicity),
            two-operator FM, a saw / square / pulse through a resonant low-pass (per partial, with the
            filter's own envelope), modal impact partials, band-passed noise, coloured noise, a glottal
            pulse train through three formants
  motion    time -> phase time                              steady, vibrato, exponential glide, siren
  rhythm    notes on a grid with ADSR envelopes, random onsets with decaying tails, or a continuous
            drone with a slow swell
Validity by construction: every source is bounded, every partial loop stops below Nyquist, no
division or log sees zero, loops have constant bounds, and every program has a layer that sounds
most of the time (a drone, or notes on a grid of at most NOTE_MAX seconds with at most a quarter
of them rests), so it compiles and is not silent. The sum goes through a soft limiter x / sqrt(1 + x^2),
which never leaves [-1, 1].

Each program binds its per-clip variation to iSeed (pitches, rhythms, noise) and iParams (x tempo
or note length, y timbre: tilt, index, cutoff, vowel, z modulation depth, w mix of the layers).
Program i of a set depends only on (seed, i); numbers are written with fixed decimals, so the sources
are byte-identical for the same seed on any machine. Shares its counter-based generator with the
image grammar (synpat.gen.grammar).
"""

from __future__ import annotations

import hashlib
import re

from synpat.core.errors import UserError

from .grammar import MAX_PROGRAMS, _f, _Rng
from .sampler import check_seed

SOUND_GRAMMAR_VERSION = 1
PREFIX = "procedural-sound:"
NOTE_MAX = 1.2
_SOURCE = re.compile(r"^procedural-sound:(\d+)(?:@(-?\d+))?$")

_HELPERS = """\
const float TAU = 6.28318530718;
uint hsh(uint x) { x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16; return x; }
float rnd(uint s) { return float(hsh(s) >> 8) / 16777216.0; }
float osc(float cycles) { return sin(TAU * fract(cycles)); }
float white(int n, uint s) { return 2.0 * rnd(uint(n) ^ hsh(s)) - 1.0; }
float smoothNoise(float x, uint s) {
    float i = floor(x), f = x - i;
    f = f * f * (3.0 - 2.0 * f);
    return mix(white(int(i), s), white(int(i) + 1, s), f);
}
float adsr(float t, float a, float d, float s, float hold, float r) {
    if (t < 0.0) return 0.0;
    if (t < a) return t / a;
    if (t < a + d) return mix(1.0, s, (t - a) / d);
    if (t < a + d + hold) return s;
    return s * exp(-(t - a - d - hold) / r);
}
vec2 lowpass(float f, float fc, float q) {
    float r = f / fc, re = 1.0 - r * r, im = r / q;
    return vec2(1.0 / sqrt(re * re + im * im), -atan(im, re) / TAU);
}
float resonance(float f, float F, float B) {
    float r = f / F, q = F / B;
    return 1.0 / sqrt((1.0 - r * r) * (1.0 - r * r) + (r / q) * (r / q));
}"""

_VOWELS = [
    (730, 1090, 2440),
    (530, 1840, 2480),
    (270, 2290, 3010),
    (570, 840, 2410),
    (300, 870, 2240),
    (660, 1720, 2410),
    (490, 1350, 1690),
]


# -- sources: a GLSL expression body computing float x from f0, pt (phase time), nt (note time), s --


def _harmonic(r: _Rng, i: int) -> tuple[str, str, float]:
    partials = r.integer(4, 32)
    b = r.pick([0.0, r.uniform(0.0001, 0.01)], [0.6, 0.4])
    decay = r.pick([0.0, r.uniform(0.05, 0.4)], [0.5, 0.5])
    code = f"""\
    float gamma = mix({_f(r.uniform(0.4, 0.9))}, {_f(r.uniform(1.2, 2.2))}, P.y);
    for (int k = 1; k <= {partials}; k++) {{
        float fk = float(k), f = f0 * fk * sqrt(1.0 + {b:.5f} * fk * fk);
        if (f > 0.45 * iSampleRate) break;
        x += pow(fk, -gamma) * exp(-nt * fk * {_f(decay)}) * osc(f * pt + rnd(s + uint(k)));
    }}
    x *= 0.5;"""
    return "harmonic", code, 1.0


def _fm(r: _Rng, i: int) -> tuple[str, str, float]:
    ratio = r.pick([0.5, 1.0, 2.0, 3.0, r.uniform(1.1, 4.0)])
    code = f"""\
    float index = mix({_f(r.uniform(0.3, 1.5))}, {_f(r.uniform(2.0, 8.0))}, P.y) * exp(-nt * {_f(r.uniform(0.0, 4.0))});
    x = sin(TAU * fract(f0 * pt) + index * osc(f0 * {_f(ratio)} * pt));"""
    return f"fm{ratio:.2f}", code, 0.7


def _filtered(r: _Rng, i: int) -> tuple[str, str, float]:
    wave = r.pick(["saw", "square", "pulse"])
    amp = {
        "saw": "1.0 / fk",
        "square": "(k % 2 == 1 ? 1.0 / fk : 0.0)",
        "pulse": f"sin(3.14159265 * fk * {_f(r.uniform(0.1, 0.4))}) / fk",
    }[wave]
    code = f"""\
    float fc = mix({_f(r.uniform(200.0, 600.0))}, {_f(r.uniform(1500.0, 5000.0))}, P.y) * (1.0 + {_f(r.uniform(0.0, 5.0))} * exp(-nt / {_f(r.uniform(0.05, 0.5))}));
    float q = {_f(r.uniform(0.7, 8.0))};
    for (int k = 1; k <= 48; k++) {{
        float fk = float(k), f = f0 * fk;
        if (f > 0.45 * iSampleRate) break;
        vec2 h = lowpass(f, fc, q);
        x += h.x * {amp} * osc(f * pt + h.y);
    }}
    x *= 0.4 / sqrt(q);"""
    return f"{wave}-lowpass", code, 1.0


def _modal(r: _Rng, i: int) -> tuple[str, str, float]:
    modes = r.integer(3, 10)
    ratios = [1.0] + sorted(r.uniform(1.2, 12.0) for _ in range(modes - 1))
    table = ", ".join(_f(x) for x in ratios)
    code = f"""\
    const float ratio[{modes}] = float[{modes}]({table});
    float pos = mix(0.05, 0.5, rnd(s + 3u));
    for (int k = 0; k < {modes}; k++) {{
        float f = f0 * ratio[k];
        if (f > 0.45 * iSampleRate) break;
        x += abs(sin(3.14159 * float(k + 1) * pos)) * exp(-nt * (1.0 + float(k)) / {_f(r.uniform(0.1, 1.5))}) * osc(f * pt);
    }}
    x *= 0.5;"""
    return f"modal{modes}", code, 1.0


def _bandnoise(r: _Rng, i: int) -> tuple[str, str, float]:
    code = f"""\
    float bw = mix({_f(r.uniform(10.0, 80.0))}, {_f(r.uniform(150.0, 800.0))}, P.y);
    x = smoothNoise(float(samp) * bw / iSampleRate, s + 17u) * osc(f0 * {_f(r.uniform(1.0, 6.0))} * pt);"""
    return "band-noise", code, 1.0


def _colourednoise(r: _Rng, i: int) -> tuple[str, str, float]:
    code = f"""\
    float alpha = mix({_f(r.uniform(0.0, 0.8))}, {_f(r.uniform(1.0, 2.0))}, P.y), norm = 0.0;
    for (int j = 0; j < 10; j++) {{
        float w = exp2(float(j) * alpha * 0.5);
        x += w * smoothNoise(float(samp) / exp2(float(j)), s + uint(j) * 101u);
        norm += w * w;
    }}
    x *= 0.8 / sqrt(norm);"""
    return "coloured-noise", code, 1.0


def _formant(r: _Rng, i: int) -> tuple[str, str, float]:
    a, b = r.pick(_VOWELS), r.pick(_VOWELS)
    code = f"""\
    vec3 F = mix(vec3({_f(a[0])}, {_f(a[1])}, {_f(a[2])}), vec3({_f(b[0])}, {_f(b[1])}, {_f(b[2])}), 0.5 + 0.5 * sin(TAU * {_f(r.uniform(0.2, 3.0))} * t)) * mix(0.85, 1.3, P.y);
    for (int k = 1; k <= 48; k++) {{
        float fk = float(k), f = f0 * fk;
        if (f > 5000.0 || f > 0.45 * iSampleRate) break;
        x += resonance(f, F.x, 80.0) * resonance(f, F.y, 100.0) * resonance(f, F.z, 150.0) / (fk * fk) * osc(fk * f0 * pt);
    }}
    x *= 0.05;"""
    return "formants", code, 1.0


_SOURCES = [
    (_harmonic, 2.0),
    (_fm, 1.5),
    (_filtered, 1.5),
    (_modal, 1.0),
    (_bandnoise, 1.0),
    (_colourednoise, 0.7),
    (_formant, 1.0),
]


# -- motions: pt, the phase time, from nt -----------------------------------------------------


def _motion(r: _Rng) -> tuple[str, str]:
    kind = r.pick(["steady", "vibrato", "glide", "siren"], [2.0, 1.0, 1.0, 0.7])
    if kind == "steady":
        return kind, "float pt = nt;"
    if kind == "vibrato":
        rate = r.uniform(3.0, 8.0)
        return (
            kind,
            f"float pt = nt - mix(0.0, {_f(r.uniform(0.005, 0.04))}, P.z) * cos({_f(6.2831853 * rate)} * nt) / {_f(6.2831853 * rate)};",
        )
    if kind == "glide":
        lr = r.uniform(-2.0, 2.0) * 0.6931
        lr = lr if abs(lr) > 0.1 else 0.3
        return (
            kind,
            f"float lr = {_f(lr)} * (0.5 + P.z), T = {_f(r.uniform(0.1, 1.0))};\n    float pt = T / lr * (exp(lr * min(nt, T) / T) - 1.0) + exp(lr) * max(nt - T, 0.0);",
        )
    rate = r.uniform(0.3, 3.0)
    return kind, f"float pt = nt - mix(0.05, 0.4, P.z) * cos({_f(6.2831853 * rate)} * nt) / {_f(6.2831853 * rate)};"


# -- layers -----------------------------------------------------------------------------------


def _layer(r: _Rng, i: int, sounding: bool) -> tuple[str, str]:
    """-> (recipe words, GLSL block adding layer i into vec2 out). ``sounding``: this layer must
    sound most of the time (a drone or dense notes)."""
    name, body, _ = r.pick([s for s, _ in _SOURCES], [w for _, w in _SOURCES])(r, i)
    motion, pt = _motion(r)
    rhythm = r.pick(
        ["notes", "drone"] if sounding else ["notes", "drone", "events"], None if sounding else [1.0, 0.7, 1.0]
    )
    f0lo = r.uniform(50.0, 400.0)
    steps = r.integer(0, 36)
    pan = r.uniform(0.0, 1.0)
    gain = r.uniform(0.5, 1.0)
    salt = 1000 + 7919 * i
    if rhythm == "drone":
        head = f"""\
    float nt = t;
    uint s = S + {salt}u;
    float f0 = {_f(f0lo)} * exp2(rnd(s) * 2.0);
    float env = 0.6 + 0.4 * smoothNoise(time * {_f(r.uniform(0.1, 2.0))}, s + 9u);"""
        loop_open, loop_close = "", ""
    elif rhythm == "notes":
        lo, hi = r.uniform(0.08, 0.4), r.uniform(0.4, NOTE_MAX)
        rest = r.uniform(0.0, 0.25)
        head = f"""\
    float len = mix({_f(lo)}, {_f(hi)}, P.x);
    float slot = floor(t / len), nt = t - slot * len;
    uint s = S + {salt}u + uint(int(slot) + 4096) * 7727u;
    float f0 = {_f(f0lo)} * exp2(floor(rnd(s) * {steps + 1}.0) / 12.0);
    float env = rnd(s + 1u) < {_f(rest)} ? 0.0 : adsr(nt, {_f(r.uniform(0.002, 0.05))}, {_f(r.uniform(0.02, 0.3))}, {_f(r.uniform(0.2, 1.0))}, len * {_f(r.uniform(0.2, 0.7))}, {_f(r.uniform(0.02, 0.2))});"""
        loop_open, loop_close = "", ""
    else:
        tail = r.uniform(0.1, 1.5)
        head = f"""\
    float len = mix({_f(r.uniform(0.3, 1.0))}, {_f(r.uniform(0.1, 0.3))}, P.x);
    float slot = floor(t / len) - float(back);
    uint s = S + {salt}u + uint(int(slot) + 4096) * 48271u;
    float nt = t - (slot + rnd(s + 2u)) * len;
    float f0 = {_f(f0lo)} * exp2(rnd(s) * {_f(r.uniform(0.5, 3.0))});
    float env = (nt < 0.0 || rnd(s + 1u) < 0.3) ? 0.0 : min(nt / 0.003, 1.0) * exp(-nt / {_f(tail)});"""
        loop_open, loop_close = "for (int back = 0; back < 4; back++) {\n", "}\n"
    block = f"""    {{ // layer {i}: {rhythm} of {name}, {motion}
{loop_open}{head}
    {pt}
    float x = 0.0;
{body}
    out2 += {_f(gain)} * mix(1.0, P.w, {_f(r.uniform(0.0, 0.8) if i else 0.0)}) * env * x * vec2({_f(1.0 - 0.5 * pan)}, {_f(0.5 + 0.5 * pan)});
{loop_close}    }}"""
    return f"{rhythm}:{name}:{motion}", block


def program_name(seed: int, index: int) -> str:
    return f"sound{seed}_{index:05d}"


def program_source(seed: int, index: int, name: str | None = None) -> str:
    """The sound program drawn with key ``index`` in the set with ``seed``."""
    r = _Rng(seed ^ 0x50D, index)
    layers = [_layer(r, i, sounding=(i == 0)) for i in range(r.pick([1, 2, 3], [0.4, 0.4, 0.2]))]
    recipe = " + ".join(words for words, _ in layers)
    blocks = "\n".join(block for _, block in layers)
    return f"""\
// synpat procedural sound program {name or program_name(seed, index)} (sound grammar v{SOUND_GRAMMAR_VERSION}, set seed {seed}, index {index})
// family: procedural-sound
// recipe: {recipe}
// iSeed: pitches, rhythms and noise; iParams: x tempo, y timbre, z modulation depth, w layer mix.
{_HELPERS}

vec2 mainSound(int samp, float time) {{
    uint S = iSeed;
    vec4 P = iParams;
    float t = time - iTime;
    vec2 out2 = vec2(0.0);
{blocks}
    return out2 / sqrt(1.0 + out2 * out2);
}}
"""


def parse_source(text: str, default_seed: int) -> tuple[int, int] | None:
    """``procedural-sound:N[@SEED]`` -> (N, seed); None when ``text`` is not one."""
    if not text.startswith(PREFIX):
        return None
    m = _SOURCE.match(text)
    if not m:
        raise UserError(f"--shaders {text}: expected {PREFIX}N or {PREFIX}N@SEED (N a count, SEED an integer)")
    n = int(m.group(1))
    if not 1 <= n <= MAX_PROGRAMS:
        raise UserError(f"--shaders {text}: expected 1 <= N <= {MAX_PROGRAMS}, got {n}")
    seed = default_seed if m.group(2) is None else int(m.group(2))
    check_seed(seed, f"--shaders {text}")
    return n, seed


def program_sources(n: int, seed: int) -> list[tuple[str, str]]:
    """-> [(name, source)] of the first n programs of the set; distinct sources (a repeat is redrawn
    under the next free key, deterministically)."""
    out, seen, key = [], set(), 0
    while len(out) < n:
        name = program_name(seed, len(out))
        source = program_source(seed, key, name)
        key += 1
        digest = hashlib.sha256(source.split("\n", 1)[1].encode()).digest()
        if digest not in seen:
            seen.add(digest)
            out.append((name, source))
    return out
