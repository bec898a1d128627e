// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: interference
//
// moire -- family: stripes / moire (two or three slightly different line or
// ring gratings multiplied together, producing low-frequency beat patterns).
// iSeed  : grating angles, centres, colours.
// iParams: x = grating frequency, y = frequency / angle mismatch (beat size),
//          z = linear vs radial gratings, w = stripe sharpness.
// iTime  : gratings slide against each other.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

float grating(vec2 uv, uint s, float freq, float radial, float sharp, float t) {
    float a = 6.2831853 * rnd(s);
    vec2 c = (vec2(rnd(s + 1u), rnd(s + 2u)) - 0.5) * 1.5;
    float lin = dot(uv, vec2(cos(a), sin(a)));
    float rad = length(uv - c);
    float x = mix(lin, rad, radial) * freq + t;
    float g = 0.5 + 0.5 * cos(6.2831853 * x);
    return smoothstep(0.5 - 0.5 / sharp, 0.5 + 0.5 / sharp, g);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;

    // keep the grating period >= ~3 pixels at the current resolution
    float fmax = iResolution.y / 3.5;
    float freq = min(mix(6.0, 22.0, P.x), fmax);
    float dm = mix(0.02, 0.15, P.y);
    float radial = step(0.5, P.z) * 1.0;
    float sharp = mix(1.0, 2.5, P.w);

    float a0 = 6.2831853 * rnd(seed + 1u);
    vec2 uv1 = uv;
    float ca = cos(dm), sa = sin(dm);
    vec2 uv2 = mat2(ca, sa, -sa, ca) * uv;
    float g1 = grating(uv1, seed + 10u, freq, radial, sharp, 0.1 * iTime);
    float g2 = grating(uv2, seed + 10u, freq * (1.0 + dm), radial, sharp, -0.07 * iTime);
    float g3 = grating(uv, seed + 20u, freq * 0.5, 1.0 - radial, sharp, 0.05 * iTime);

    float m = g1 * g2;                     // multiplicative moire
    vec3 cA = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 3u) + vec3(0.0, 0.33, 0.67)));
    vec3 cB = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 4u) + vec3(0.0, 0.33, 0.67)));
    vec3 bg = 0.12 + 0.1 * cos(6.2831853 * (rnd(seed + 5u) + vec3(0.0, 0.33, 0.67) + 0.2 * sin(a0)));
    vec3 col = mix(bg, cA, m);
    col = mix(col, cB, 0.35 * g3 * (1.0 - m));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
