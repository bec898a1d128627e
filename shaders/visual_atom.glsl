// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: visual_atom
//
// visual_atom -- family: VisualAtom-like contours (concentric closed curves
// whose radius is modulated by a sum of two sinusoids in the polar angle).
// iSeed  : centres, integer harmonic numbers, phases, palette.
// iParams: x = ring spacing, y = modulation amplitude, z = line width,
//          w = second atom strength (one .. two overlapping atoms).
// iTime  : rotation of the sinusoidal modulation.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

// returns (line intensity, ring index) for one atom
vec2 atom(vec2 uv, uint s, vec4 P, float t, float px) {
    vec2 c = (vec2(rnd(s + 1u), rnd(s + 2u)) - 0.5) * 0.5;
    vec2 d = uv - c;
    float rho = length(d);
    float th = atan(d.y, d.x + 1e-7);
    float n1 = floor(mix(1.0, 8.99, rnd(s + 3u)));
    float n2 = floor(mix(2.0, 20.99, rnd(s + 4u)));
    float a1 = mix(0.05, 0.35, P.y) * rnd(s + 5u);
    float a2 = mix(0.02, 0.2, P.y) * rnd(s + 6u);
    float m = 1.0 + a1 * sin(n1 * th + 6.2831853 * rnd(s + 7u) + 0.2 * t)
                  + a2 * sin(n2 * th + 6.2831853 * rnd(s + 8u) - 0.13 * t);
    float q = rho / max(m, 0.05);
    float spacing = mix(0.04, 0.16, P.x);
    float x = q / spacing;
    float idx = floor(x + 0.5);
    float dl = abs(x - idx) * spacing * m;          // approx distance to nearest contour
    float w = max(mix(0.004, 0.02, P.z), 0.7 * px);          // at least ~a pixel wide
    float line = 1.0 - smoothstep(w * 0.5, w * 1.5 + px, dl);
    line *= 1.0 - smoothstep(0.7, 1.1, q);         // finite number of orbits
    return vec2(line, idx);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    uv *= 1.3;

    float px = 1.3 / max(iResolution.y, 1.0);
    vec2 A = atom(uv, seed, P, iTime, px);
    vec2 B = atom(uv * 1.4, pcg(seed ^ 0xA5A5A5A5u), P, iTime, px * 1.4);

    float h0 = rnd(seed + 9u);
    vec3 cA = 0.55 + 0.45 * cos(6.2831853 * (h0 + 0.07 * A.y + vec3(0.0, 0.33, 0.67)));
    vec3 cB = 0.55 + 0.45 * cos(6.2831853 * (h0 + 0.5 + 0.05 * B.y + vec3(0.0, 0.33, 0.67)));
    vec3 bg = 0.08 + 0.08 * cos(6.2831853 * (h0 + vec3(0.5, 0.6, 0.7))) * (1.0 - 0.5 * length(uv));
    vec3 col = bg + cA * A.x + cB * B.x * P.w;
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
