// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: visual_atom
//
// visual_atom_5_12 -- VisualAtom-like category (N1, N2) = (5, 12): concentric orbits modulated by
// the sum of two sinusoids of frequencies N1 and N2 in the polar angle, as in VisualAtom
// (Takashima et al. 2023); one program is one category.
// iSeed  : number of orbits (4 .. 63), innermost radius, amplitude, quantisation (smooth or 8 ..
//          200 vertices), vertex noise, each orbit's grey level, the centre.
// iParams: x = amplitude, y = line width (0.6 .. 2.5 px), z = vertex noise, w = colour (grey .. hue).

const float N1 = 5.0, N2 = 12.0;

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

// The orbits, as VisualAtom defines them: K concentric closed contours around one centre,
// orbit k at radius r_k = r0 + k * dr, each modulated by the category's two sinusoids,
//     rho_k(theta) = r_k + lambda * (sin(N1 * theta) + sin(N2 * theta)),
// optionally quantised to Q vertices (straight segments between them) and with noise on each
// vertex's radius. -> the distance from p to the nearest orbit (3 candidates) and that orbit.
float wave(float th, float lambda) { return lambda * (sin(N1 * th) + sin(N2 * th)); }

vec2 vertex(float th, float rk, float lambda, float noise, uint s, float vi) {
    float r = rk + wave(th, lambda) + noise * (rnd(s ^ pcg(uint(int(vi)) + 0x51u)) - 0.5);
    return r * vec2(cos(th), sin(th));
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint s = iSeed;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    vec2 p = uv - 0.15 * (vec2(rnd(s + 1u), rnd(s + 2u)) - 0.5);
    float px = 1.0 / iResolution.y;
    int K = 4 + int(pcg(s + 3u) % 60u);                         // number of orbits
    float r0 = mix(0.02, 0.12, rnd(s + 4u));
    float dr = (0.45 - r0) / float(K);
    float lambda = dr * mix(0.3, 3.0, iParams.x) * (0.25 + rnd(s + 5u));
    float Q = (pcg(s + 6u) % 3u == 0u) ? 0.0 : floor(mix(8.0, 200.0, rnd(s + 7u)));   // vertices (0: smooth)
    float noise = dr * mix(0.0, 1.5, iParams.z) * rnd(s + 8u);
    float width = max(px * mix(0.6, 2.5, iParams.y), 0.0);
    float th = atan(p.y, p.x);
    float rho = length(p);
    float k0 = floor((rho - wave(th, lambda) - r0) / dr + 0.5);
    float best = 1e9, bestK = 0.0;
    for (int j = -1; j <= 1; j++) {
        float k = clamp(k0 + float(j), 0.0, float(K - 1));
        float rk = r0 + k * dr;
        uint ks = pcg(s + uint(int(k)) * 0x2545F491u);
        float dist;
        if (Q > 0.0) {                                   // segment between the two vertices around theta
            float step_ = 6.2831853 / Q;
            float vi = floor((th + 3.1415927) / step_);
            float ta = vi * step_ - 3.1415927, tb = ta + step_;
            vec2 a = vertex(ta, rk, lambda, noise, ks, vi), b = vertex(tb, rk, lambda, noise, ks, mod(vi + 1.0, Q));
            vec2 ab = b - a;
            dist = length(p - a - ab * clamp(dot(p - a, ab) / max(dot(ab, ab), 1e-12), 0.0, 1.0));
        } else {                                          // smooth: radial distance over the slope
            float slope = lambda * (N1 * cos(N1 * th) + N2 * cos(N2 * th)) / max(rho, 1e-4);
            dist = abs(rho - rk - wave(th, lambda)) / sqrt(1.0 + slope * slope);
        }
        if (dist < best) { best = dist; bestK = k; }
    }
    float line = 1.0 - smoothstep(0.5 * width, 0.5 * width + px, best);
    uint ks = pcg(s + uint(int(bestK)) * 0x2545F491u);
    float grey = mix(0.35, 1.0, rnd(ks + 9u));
    vec3 tint = 0.6 + 0.4 * cos(6.2831853 * (rnd(s + 10u) + 0.02 * bestK + vec3(0.0, 0.33, 0.67)));
    vec3 col = grey * mix(vec3(1.0), tint, iParams.w);
    fragColor = vec4(col * line, 1.0);
}
