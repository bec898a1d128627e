// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: dead_leaves
//
// dl_oriented -- dead leaves (b), oriented: rectangles of random aspect ratio, all turned
// near one dominant orientation per image, random colour, power-law sizes.
// iSeed  : dominant orientation, grids, each leaf's size, aspect, angle and colour.
// iParams: x = power-law exponent, y = size range, z = orientation spread (aligned .. random).

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
    float a = 6.2831853 * rnd(iSeed + 11u) + (rnd(h + 8u) - 0.5) * 3.1415927 * iParams.z;
    vec2 p = abs(rot(a) * d) - r * vec2(0.9, mix(0.15, 0.6, rnd(h + 9u)));
    return max(p.x, p.y);
}
vec3 colour(uint h, vec2 d, float r) { return vec3(rnd(h + 5u), rnd(h + 6u), rnd(h + 7u)); }

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
