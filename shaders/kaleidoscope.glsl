// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: geometric
//
// kaleidoscope -- family: polar mirror folding of a layered pattern.
// iSeed  : fold offsets, inner pattern phases, palette.
// iParams: x = number of mirror segments (3..12), y = zoom,
//          z = inner fold iterations (1..3, blended), w = pattern frequency.
// iTime  : rotation of the inner pattern.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

vec2 polarFold(vec2 p, float n) {
    float seg = 6.2831853 / n;
    float a = atan(p.y, p.x) + 3.14159265;     // [0, 2pi]
    a = mod(a, seg);
    a = abs(a - 0.5 * seg);                    // mirror inside the wedge
    return length(p) * vec2(cos(a), sin(a));
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    float t = iTime;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    uv += (vec2(rnd(seed + 1u), rnd(seed + 2u)) - 0.5) * 0.3;

    float n = floor(mix(3.0, 12.99, P.x));
    vec2 p = uv * mix(1.2, 3.5, P.y);
    float iters = mix(1.0, 3.0, P.z);
    float acc = 0.0;
    vec2 q = p;
    for (int i = 0; i < 3; i++) {
        float w = clamp(iters - float(i), 0.0, 1.0);
        if (w <= 0.0) break;
        vec2 f = polarFold(q, n);
        uint s = seed + uint(i) * 0x9E3779B9u;
        f -= vec2(mix(0.3, 1.0, rnd(s + 3u)), mix(-0.2, 0.2, rnd(s + 4u)));
        float ca = cos(0.15 * t + 6.28 * rnd(s + 5u)), sa = sin(0.15 * t + 6.28 * rnd(s + 5u));
        f = mat2(ca, sa, -sa, ca) * f;
        q = mix(q, f * 1.6, w);
        acc += w * exp(-3.0 * length(f));
    }

    float fr = mix(2.0, 7.0, P.w);
    float pat = sin(fr * q.x + 6.28 * rnd(seed + 8u)) * cos(fr * q.y * 0.8 + 6.28 * rnd(seed + 9u));
    float ring = 0.5 + 0.5 * cos(fr * 1.3 * length(q));
    float v = 0.5 + 0.35 * pat + 0.25 * (ring - 0.5) + 0.3 * acc;

    vec3 ph = rnd(seed + 21u) + vec3(0.0, 0.12 + 0.3 * rnd(seed + 22u), 0.33 + 0.3 * rnd(seed + 23u));
    vec3 col = 0.5 + 0.5 * cos(6.2831853 * (v * 0.9 + ph));
    col *= 0.45 + 0.55 * smoothstep(0.0, 0.8, v);
    col *= 1.0 - 0.35 * smoothstep(0.6, 1.2, length(uv));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
