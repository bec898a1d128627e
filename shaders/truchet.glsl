// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: geometric
//
// truchet -- family: randomised Truchet tiles of quarter-circle arcs.
// iSeed  : tile orientation hash, rotation, palette.
// iParams: x = tile density, y = line width, z = edge softness / shading,
//          w = style (two-tone fill .. bands along arcs).
// iTime  : flow of stripes along the arcs.

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
    float ang = 6.2831853 * rnd(seed + 3u);
    mat2 R = mat2(cos(ang), sin(ang), -sin(ang), cos(ang));
    vec2 p = R * uv * mix(3.0, 9.0, P.x) + vec2(rnd(seed + 1u), rnd(seed + 2u)) * 100.0;

    vec2 fl = floor(p);
    ivec2 c = ivec2(fl);
    vec2 f = p - fl - 0.5;                    // [-0.5, 0.5]
    uint h = pcg(uint(c.x) ^ pcg(uint(c.y) + seed));
    bool flip = (h & 1u) == 1u;
    if (flip) f.x = -f.x;
    // parity so that the two regions alternate consistently across tiles
    float parity = float(((c.x + c.y) & 1) ^ int(flip)) * 2.0 - 1.0;

    // distance to the two arcs centred at opposite corners
    vec2 c1 = f - vec2(0.5, 0.5), c2 = f + vec2(0.5, 0.5);
    float r1 = length(c1), r2 = length(c2);
    float d = min(abs(r1 - 0.5), abs(r2 - 0.5));
    float side = (r1 < 0.5 ? 1.0 : (r2 < 0.5 ? 1.0 : -1.0)) * parity;

    // coordinate along the nearer arc
    vec2 cc = abs(r1 - 0.5) < abs(r2 - 0.5) ? c1 : c2;
    float along = atan(cc.y, cc.x + 1e-6);

    float width = mix(0.06, 0.22, P.y);
    float soft = mix(0.01, 0.12, P.z);
    float line = 1.0 - smoothstep(width - soft, width + soft, d);

    vec3 A = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 11u) + vec3(0.0, 0.33, 0.67)));
    vec3 B = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 13u) + vec3(0.1, 0.2, 0.3)));
    vec3 L = 0.5 + 0.5 * cos(6.2831853 * (rnd(seed + 17u) + vec3(0.6, 0.3, 0.0)));
    vec3 bg = mix(A, B, 0.5 + 0.5 * side) * (0.55 + 0.45 * smoothstep(0.0, 0.5, d));
    float bands = 0.5 + 0.5 * sin(along * 4.0 * parity + 3.0 * iTime);
    vec3 lc = L * mix(1.0, 0.5 + 0.5 * bands, P.w);
    lc *= 0.7 + 0.3 * (1.0 - d / max(width, 1e-3));
    vec3 col = mix(bg, lc, line);
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
