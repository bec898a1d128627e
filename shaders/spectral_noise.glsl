// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: statistical
//
// spectral_noise -- family: 1/f^a random fields synthesised as a sum of random
// sinusoids (log-spaced frequencies, random orientations and phases).
// iSeed  : orientations, phases, frequency jitter and palette.
// iParams: x = spectral exponent a (1.1 .. 2.3: rough .. smooth),
//          y = lowest frequency, z = anisotropy (orientations concentrated
//          around a seeded direction), w = second-field hue modulation.
// iTime  : phase drift of all components.

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

    const int N = 16;
    float expo = mix(1.1, 2.3, P.x);
    float f0 = mix(0.6, 1.8, P.y);
    float f1 = 20.0;
    float dir0 = 6.2831853 * rnd(seed + 1u);
    float aniso = 0.7 * P.z * P.z;
    float s1 = 0.0, s2 = 0.0, norm = 0.0;
    for (int i = 0; i < N; i++) {
        uint h = pcg(seed + uint(i) * 0x9E3779B9u);
        float u = (float(i) + float(h & 0xFFu) / 255.0) / float(N);
        float f = f0 * pow(f1 / f0, u);                    // log-spaced
        float a = mix(6.2831853 * float((h >> 8u) & 0xFFu) / 255.0,
                      dir0 + 0.6 * (float((h >> 8u) & 0xFFu) / 255.0 - 0.5), aniso);
        float ph1 = float((h >> 16u) & 0xFFu) * (6.2831853 / 255.0);
        float ph2 = float(h >> 24u) * (6.2831853 / 255.0);
        float amp = pow(f, -expo) * f;                     // density ~ 1/f -> multiply by f
        float x = 6.2831853 * f * dot(uv, vec2(cos(a), sin(a))) + 0.7 * iTime;
        s1 += amp * sin(x + ph1);
        s2 += amp * sin(x * 0.97 + ph2);
        norm += amp * amp;
    }
    float k = inversesqrt(max(0.5 * norm, 1e-8));
    s1 *= k; s2 *= k;                                      // ~ unit variance

    float t = clamp(0.5 + 0.25 * s1, 0.0, 1.0);
    float u = clamp(0.5 + 0.3 * s2, 0.0, 1.0);
    // three seeded key colours; field 1 blends dark->light, field 2 shifts hue
    vec3 cA = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 2u) + vec3(0.0, 0.33, 0.67)));
    vec3 cB = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 3u) + vec3(0.0, 0.33, 0.67)));
    vec3 cC = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 4u) + vec3(0.0, 0.33, 0.67)));
    vec3 lo = mix(cA, cC, u * P.w) * 0.25;
    vec3 hi = mix(cB, cC, (1.0 - u) * P.w) * 1.05 + 0.1;
    vec3 col = mix(lo, hi, smoothstep(0.1, 0.9, t));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
