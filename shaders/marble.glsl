// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: procedural_noise
//
// marble -- family: marble / wood veins (sine bands of a direction or ring
// coordinate perturbed by turbulence = sum of |noise| octaves).
// iSeed  : noise salt, vein direction, stone colours.
// iParams: x = vein frequency, y = turbulence strength, z = bands (marble)
//          vs rings (wood), w = vein sharpness.
// iTime  : slow drift of the turbulence.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

vec2 grad2(ivec2 p, uint salt) {
    uint h = pcg(uint(p.x) ^ pcg(uint(p.y) + salt));
    return vec2(float(h & 0xFFFFu), float(h >> 16u)) * (2.0 / 65535.0) - 1.0;
}
float gnoise(vec2 x, uint salt) {
    vec2 fl = floor(x);
    ivec2 i = ivec2(fl);
    vec2 f = x - fl;
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = dot(grad2(i, salt), f);
    float b = dot(grad2(i + ivec2(1, 0), salt), f - vec2(1.0, 0.0));
    float c = dot(grad2(i + ivec2(0, 1), salt), f - vec2(0.0, 1.0));
    float d = dot(grad2(i + ivec2(1, 1), salt), f - vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}
float turb(vec2 p, uint salt) {
    float s = 0.0, a = 0.5;
    for (int i = 0; i < 5; i++) {
        s += a * abs(gnoise(p, salt + uint(i) * 31u));
        p = mat2(1.6, 1.2, -1.2, 1.6) * p;
        a *= 0.5;
    }
    return s;
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    vec2 p = uv * 3.0 + vec2(rnd(seed + 1u), rnd(seed + 2u)) * 40.0;

    float a = 6.2831853 * rnd(seed + 3u);
    float lin = dot(uv, vec2(cos(a), sin(a)));
    vec2 rc = (vec2(rnd(seed + 4u), rnd(seed + 5u)) - 0.5) * 2.0;
    float rings = length((uv - rc) * vec2(1.0, 0.6));
    float coord = mix(lin, rings, step(0.6, P.z));
    float tb = turb(p + 0.05 * iTime, seed);
    float x = coord * mix(3.0, 10.0, P.x) + tb * mix(1.0, 5.0, P.y);
    float v = 0.5 + 0.5 * sin(6.2831853 * x);
    v = pow(v, mix(0.6, 4.0, P.w));

    vec3 stone = 0.55 + 0.35 * cos(6.2831853 * (rnd(seed + 6u) + vec3(0.0, 0.08, 0.16)));
    vec3 vein = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 7u) + vec3(0.0, 0.33, 0.67)));
    vein *= mix(0.2, 1.0, rnd(seed + 8u));
    vec3 col = mix(stone, vein, v);
    col *= 0.85 + 0.3 * (tb - 0.3);
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
