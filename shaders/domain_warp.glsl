// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: procedural_noise
//
// domain_warp -- family: domain warping (fbm evaluated at a point displaced by fbm).
// iSeed  : noise salt, domain offset and palette colours.
// iParams: x = base scale, y = warp strength, z = warp depth (one or two
//          warp stages blended), w = colour mixing / contrast.
// iTime  : animates the inner warp field.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

// value noise on an integer lattice
float vhash(ivec2 p, uint salt) {
    return float(pcg(uint(p.x) ^ pcg(uint(p.y) + salt)) >> 8u) * (1.0 / 16777216.0);
}
float vnoise(vec2 x, uint salt) {
    vec2 fl = floor(x);
    ivec2 i = ivec2(fl);
    vec2 f = x - fl;
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = vhash(i, salt), b = vhash(i + ivec2(1, 0), salt);
    float c = vhash(i + ivec2(0, 1), salt), d = vhash(i + ivec2(1, 1), salt);
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}
float fbm4(vec2 p, uint salt) {
    float s = 0.0, a = 0.5;
    mat2 m = mat2(1.6, 1.2, -1.2, 1.6);
    for (int i = 0; i < 4; i++) {
        s += a * vnoise(p, salt);
        p = m * p + vec2(3.1, 7.7);
        a *= 0.5;
    }
    return s / 0.9375;   // [0,1]
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    float t = iTime;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;

    vec2 p = uv * mix(1.5, 4.0, P.x) + vec2(rnd(seed), rnd(seed + 7u)) * 50.0;
    float k = mix(1.0, 4.0, P.y);

    vec2 q = vec2(fbm4(p, seed + 1u), fbm4(p + vec2(5.2, 1.3), seed + 2u));
    vec2 r = vec2(fbm4(p + k * q + vec2(1.7, 9.2) + 0.15 * t, seed + 3u),
                  fbm4(p + k * q + vec2(8.3, 2.8) - 0.12 * t, seed + 4u));
    vec2 w = mix(q, r, P.z);
    float f = fbm4(p + k * w, seed + 5u);

    vec3 c1 = 0.5 + 0.5 * cos(6.2831853 * (rnd(seed + 31u) + vec3(0.0, 0.33, 0.67)));
    vec3 c2 = 0.5 + 0.5 * cos(6.2831853 * (rnd(seed + 37u) + vec3(0.0, 0.10, 0.20)));
    vec3 c3 = 0.5 + 0.5 * cos(6.2831853 * (rnd(seed + 41u) + vec3(0.5, 0.25, 0.0)));

    float g = clamp((f - 0.25) * 2.0, 0.0, 1.0);
    vec3 col = mix(c1 * 0.25, c2, g * g * (3.0 - 2.0 * g));
    col = mix(col, c3, clamp(length(q) * mix(0.3, 0.9, P.w) - 0.2, 0.0, 1.0));
    col = mix(col, vec3(0.95), 0.6 * smoothstep(0.55, 0.9, w.y) * P.w);
    col *= 0.6 + 0.6 * f;
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
