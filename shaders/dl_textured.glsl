// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: dead_leaves
//
// dl_textured -- dead leaves (d), textured: mixed shapes each filled with its own texture
// (stripes, checks, a gradient or a spot pattern between two random colours), power-law sizes.
// iSeed  : grids, each leaf's shape, size, texture, its frequency and orientation, colours.
// iParams: x = power-law exponent, y = size range, z = texture frequency (coarse .. fine).

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }
mat2 rot(float a) { float c = cos(a), s = sin(a); return mat2(c, s, -s, c); }

// The radius of the leaf that covers a point, when leaf radii follow pdf(r) ~ r^-k on
// [rmin, rmax]: a leaf covers a point with probability ~ r^2, so the covering leaf's radius has
// pdf ~ r^(2-k) (inverse CDF; log-uniform at k = 3).
float coveringRadius(float u, float rmin, float rmax, float k) {
    float e = 3.0 - k;
    if (abs(e) < 1e-3) return rmin * pow(rmax / rmin, u);
    return pow(mix(pow(rmin, e), pow(rmax, e), u), 1.0 / e);
}

float leaf(vec2 d, float r, uint h) {
    vec2 p = rot(rnd(h + 8u) * 6.2831853) * d;
    uint kind = pcg(h + 10u) % 3u;
    if (kind == 0u) return length(p) - r;
    if (kind == 1u) { vec2 a = abs(p) - 0.75 * r; return max(a.x, a.y); }
    return (length(p * vec2(1.0, 1.7)) - r) / 1.7;
}
vec3 colour(uint h, vec2 d, float r) {
    vec3 a = vec3(rnd(h + 5u), rnd(h + 6u), rnd(h + 7u));
    vec3 b = vec3(rnd(h + 12u), rnd(h + 13u), rnd(h + 14u));
    vec2 p = rot(rnd(h + 15u) * 6.2831853) * d / r * mix(1.5, 6.0, iParams.z) * mix(0.7, 1.5, rnd(h + 16u));
    uint tex = pcg(h + 17u) % 4u;
    float t;
    if (tex == 0u) t = 0.5 + 0.5 * sin(6.2831853 * p.x);                       // stripes
    else if (tex == 1u) t = step(0.0, sin(3.1415927 * p.x) * sin(3.1415927 * p.y));   // checks
    else if (tex == 2u) t = clamp(0.5 + 0.15 * p.x, 0.0, 1.0);                   // gradient
    else t = smoothstep(0.35, 0.25, length(fract(p) - 0.5));                     // spots
    return mix(a, b, t);
}

// Leaves fall in layers, front layer first: the first layer whose leaf covers the pixel
// decides its colour (occlusion order = layer order, independent of size). Each layer is a
// randomly rotated and shifted grid whose cells hold at most one leaf that stays inside its
// cell; each layer's radius is drawn from the power law, the cell sized to the largest leaf.
// leaf(d, r, h) -> signed distance of the pixel (offset d from the leaf centre, image units)
// to a leaf of radius r with random bits h; colour(h, d, r) -> the leaf's colour.
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    float k = mix(2.2, 3.8, iParams.x);                    // power-law exponent of the leaf radii
    float rmin = mix(0.015, 0.05, iParams.y);
    float rmax = mix(0.25, 0.6, iParams.y);
    vec3 col = vec3(0.5);
    for (int l = 0; l < 48; l++) {
        uint ls = pcg(iSeed ^ (uint(l) * 0x9E3779B9u + 0x85EBCA6Bu));
        float r = coveringRadius(rnd(ls), rmin, rmax, k);
        float cell = 2.0 * r;
        mat2 R = rot(rnd(ls + 4u) * 6.2831853);
        vec2 q = R * uv / cell + 100.0 * vec2(rnd(ls + 1u), rnd(ls + 2u));
        vec2 ic = floor(q);
        uint h = pcg(uint(int(ic.x)) * 0x8DA6B343u ^ pcg(uint(int(ic.y)) + ls));
        float rr = r * mix(0.55, 1.0, rnd(h + 3u));       // this leaf's radius
        vec2 ctr = (ic + 0.5 + (vec2(rnd(h + 1u), rnd(h + 2u)) - 0.5) * (1.0 - rr / r)) * cell;
        vec2 d = transpose(R) * (q * cell - ctr);           // back to image axes
        if (leaf(d, rr, h) < 0.0) { col = colour(h, d, rr); break; }
    }
    fragColor = vec4(col, 1.0);
}
