// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: interference
//
// waves -- family: interference of several circular and plane waves.
// iSeed  : source positions, directions, phases and palette.
// iParams: x = wavelength scale, y = number of sources (3..7),
//          z = circular vs plane wave mix, w = palette contrast / banding.
// iTime  : wave phase (propagation).

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

    float kbase = mix(10.0, 38.0, P.x);
    float nsrc = mix(3.0, 7.0, P.y);
    float sum = 0.0, wsum = 0.0;
    for (int i = 0; i < 7; i++) {
        float w = clamp(nsrc - float(i), 0.0, 1.0);
        if (w <= 0.0) break;
        uint s = seed + uint(i) * 0x9E3779B9u;
        vec2 src = (vec2(rnd(s + 1u), rnd(s + 2u)) - 0.5) * 2.2;
        float k = kbase * mix(0.6, 1.4, rnd(s + 3u));
        float phi = 6.2831853 * rnd(s + 4u);
        float a = 6.2831853 * rnd(s + 5u);
        float circ = step(rnd(s + 6u), mix(0.1, 0.95, P.z));
        float dist = mix(dot(uv, vec2(cos(a), sin(a))), length(uv - src), circ);
        float amp = w * mix(0.5, 1.0, rnd(s + 7u)) / (1.0 + circ * 1.5 * length(uv - src));
        sum += amp * sin(k * dist - 2.0 * iTime + phi);
        wsum += amp;
    }
    float v = sum / max(wsum, 1e-3);          // [-1,1]
    float e = v * v;                          // intensity of the interference
    float t = 0.5 + 0.5 * v;

    vec3 ph = rnd(seed + 77u) + vec3(0.0, 0.15 + 0.2 * rnd(seed + 78u), 0.4);
    vec3 col = 0.5 + 0.5 * cos(6.2831853 * (mix(0.4, 1.3, P.w) * t + ph));
    col = mix(col * 0.35, col, smoothstep(0.0, 0.6, e + 0.2 * t));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
