// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: interference
//
// plasma_palette -- family: classic plasma (sum of sines of warped
// coordinates) mapped through an iq-style cosine palette a + b*cos(2pi(c*t+d)).
// iSeed  : sine frequencies/directions/phases and palette coefficients.
// iParams: x = spatial frequency, y = self-warp amount, z = palette cycles,
//          w = palette saturation / brightness.
// iTime  : plasma animation phase.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }
vec3 rnd3(uint v) { return vec3(rnd(v), rnd(v + 1u), rnd(v + 2u)); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    float t = iTime;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    vec2 p = uv * mix(3.5, 9.0, P.x);

    // gentle self-warp
    float wa = mix(0.0, 1.2, P.y);
    p += wa * vec2(sin(p.y * 0.9 + 1.3 * t + 6.28 * rnd(seed + 1u)),
                   cos(p.x * 1.1 - 0.9 * t + 6.28 * rnd(seed + 2u)));

    float v = 0.0;
    for (int i = 0; i < 4; i++) {
        uint s = seed + 16u + uint(i) * 8u;
        float a = 6.2831853 * rnd(s);
        float f = mix(0.6, 1.6, rnd(s + 1u));
        v += sin(f * dot(p, vec2(cos(a), sin(a))) + 6.28 * rnd(s + 2u) + t * (0.5 + rnd(s + 3u)));
    }
    vec2 cc = (vec2(rnd(seed + 60u), rnd(seed + 61u)) - 0.5) * 4.0;
    v += sin(length(p - cc) * mix(0.8, 1.8, rnd(seed + 62u)) - t);
    v *= 0.25;                                           // ~[-1,1]

    // cosine palette with seeded coefficients
    vec3 pa = mix(vec3(0.35), vec3(0.6), rnd3(seed + 70u));
    vec3 pb = mix(vec3(0.35), vec3(0.5), rnd3(seed + 73u)) * mix(0.7, 1.0, P.w);
    vec3 pc = floor(1.0 + 2.0 * rnd3(seed + 76u)) * 0.5 * mix(0.8, 2.0, P.z);
    vec3 pd = rnd3(seed + 79u);
    vec3 col = pa + pb * cos(6.2831853 * (pc * (0.5 + 0.5 * v) + pd));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
