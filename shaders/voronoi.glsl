// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: cellular
//
// voronoi -- family: Worley / cellular noise (F1, F2 distances, cell ids).
// iSeed  : feature-point hash salt, rotation, palette.
// iParams: x = cell density, y = jitter (regular grid .. fully random),
//          z = look (F1 soft shading .. F2-F1 crisp borders), w = metric
//          (euclidean .. chebyshev-ish blend) and colour saturation.
// iTime  : feature points orbit around their anchors.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

uint cellHash(ivec2 c, uint salt) { return pcg(uint(c.x) ^ pcg(uint(c.y) + salt)); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    float ang = 6.2831853 * rnd(seed + 5u);
    mat2 R = mat2(cos(ang), sin(ang), -sin(ang), cos(ang));
    vec2 p = R * uv * mix(3.0, 9.0, P.x) + vec2(rnd(seed + 1u), rnd(seed + 2u)) * 100.0;

    vec2 fl = floor(p);
    ivec2 ip = ivec2(fl);
    vec2 fp = p - fl;
    float jit = mix(0.35, 1.0, P.y);
    float mtr = P.w;

    float d1 = 8.0, d2 = 8.0;
    uint id1 = 0u;
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            ivec2 c = ip + ivec2(i, j);
            uint h = cellHash(c, seed);
            vec2 o = vec2(float(h & 0xFFFFu), float(h >> 16u)) * (1.0 / 65535.0);
            float ph = 6.2831853 * o.x + 0.4 * iTime;
            o = 0.5 + jit * (0.5 * (o - 0.5) + 0.22 * vec2(sin(ph), cos(ph * 1.3)));
            vec2 dv = vec2(float(i), float(j)) + o - fp;
            vec2 a = abs(dv);
            float d = mix(length(dv), max(a.x, a.y) * 1.15, mtr);
            if (d < d1) { d2 = d1; d1 = d; id1 = h; }
            else if (d < d2) { d2 = d; }
        }
    }

    float cid = float(id1 >> 8u) * (1.0 / 16777216.0);
    vec3 base = 0.5 + 0.5 * cos(6.2831853 * (cid * mix(0.25, 0.6, P.w) + rnd(seed + 9u) + vec3(0.0, 0.33, 0.67)));
    float border = smoothstep(0.0, mix(0.25, 0.06, P.z), d2 - d1);
    float f1shade = 1.0 - 0.8 * smoothstep(0.0, 1.0, d1);
    vec3 col = base * mix(f1shade, border * (0.75 + 0.25 * f1shade), P.z);
    col = mix(col, vec3(0.1, 0.08, 0.12), (1.0 - border) * 0.6 * P.z);
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
