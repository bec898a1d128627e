// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: inversion_fractal
//
// ifs_flame -- family: per-pixel iterated inversion folding (Kleinian-style
// "abs-fold + circle inversion + translate" map), coloured by smooth orbit
// statistics and orbit traps.
// iSeed  : fold translation c, view offset/rotation, palette.
// iParams: x = zoom, y = fold translation spread, z = iteration depth (4..9),
//          w = orbit-trap tint strength.
// iTime  : the translation c drifts slowly (the attractor morphs).

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    float ra = 6.2831853 * rnd(seed + 3u);
    mat2 R = mat2(cos(ra), sin(ra), -sin(ra), cos(ra));

    vec2 p = R * uv * mix(1.6, 0.5, P.x) + (vec2(rnd(seed + 1u), rnd(seed + 2u)) - 0.5) * 0.8;
    vec2 c = vec2(mix(0.45, 0.95, rnd(seed + 4u)), mix(0.35, 0.9, rnd(seed + 5u)));
    c = mix(vec2(0.7, 0.6), c, mix(0.3, 1.0, P.y)) + 0.02 * vec2(sin(0.3 * iTime), cos(0.23 * iTime));
    float iters = mix(4.0, 9.0, P.z);

    float acc = 0.0, prev = length(p), wsum = 0.0;
    float trap = 1e9;
    for (int i = 0; i < 11; i++) {
        float w = clamp(iters - float(i), 0.0, 1.0);
        if (w <= 0.0) break;
        p = abs(p) / clamp(dot(p, p), 0.02, 1e4) - c;     // fold + inversion + translate
        float l = length(p);
        acc += w * exp(-2.5 * abs(l - prev));
        wsum += w;
        prev = l;
        trap = min(trap, abs(p.x * p.y) + 0.3 * abs(l - 0.6));
    }
    float v = smoothstep(0.05, 0.75, acc / max(wsum, 1e-3));   // stretched to [0,1]
    float tr = exp(-6.0 * trap);

    vec3 ph = rnd(seed + 7u) + vec3(0.0, 0.1 + 0.25 * rnd(seed + 8u), 0.3 + 0.2 * rnd(seed + 9u));
    vec3 col = 0.5 + 0.5 * cos(6.2831853 * (1.1 * v + ph));
    vec3 tint = 0.5 + 0.5 * cos(6.2831853 * (ph.zxy + 0.5));
    col = mix(col * (0.2 + 0.9 * v), tint, mix(0.25, 0.9, P.w) * tr);
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
