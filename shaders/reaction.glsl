// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: cellular
//
// reaction -- family: reaction-diffusion look (Turing spots / labyrinth stripes),
// faked by soft-thresholding narrow band-passed gradient noise.
// iSeed  : noise salt, rotation, two-tone palette.
// iParams: x = feature wavelength, y = threshold (labyrinth .. spots),
//          z = spatial drift of the threshold (mixed regimes), w = edge softness.
// iTime  : slow evolution of the band-passed field.

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
    vec2 u = f * f * f * (f * (f * 6.0 - 15.0) + 10.0);
    float a = dot(grad2(i, salt), f);
    float b = dot(grad2(i + ivec2(1, 0), salt), f - vec2(1.0, 0.0));
    float c = dot(grad2(i + ivec2(0, 1), salt), f - vec2(0.0, 1.0));
    float d = dot(grad2(i + ivec2(1, 1), salt), f - vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    vec2 p = uv * mix(3.0, 8.0, P.x) + vec2(rnd(seed + 1u), rnd(seed + 2u)) * 80.0;
    float tt = 0.08 * iTime;

    // narrow-band random field: random plane waves on a ring |k| = const,
    // domain slightly warped so the pattern is not quasi-periodic
    vec2 wp = p + 0.9 * vec2(gnoise(p * 0.25, seed + 11u), gnoise(p * 0.25 + 5.3, seed + 12u));
    float n = 0.0;
    for (int i = 0; i < 12; i++) {
        uint h = pcg(seed + uint(i) * 0x9E3779B9u);
        float a = 3.14159265 * (float(i) + float(h & 0xFFu) / 255.0) / 12.0;
        float k = 6.2831853 * mix(0.95, 1.05, float((h >> 8u) & 0xFFu) / 255.0);
        float ph = float(h >> 16u) * (6.2831853 / 65536.0);
        n += cos(k * dot(wp, vec2(cos(a), sin(a))) + ph + tt * float(i - 6));
    }
    n *= 0.4082;   // 1/sqrt(6): unit variance
    // low-frequency modulation of the threshold -> mixed spot / stripe regimes
    float lowf = gnoise(p * 0.12 + 3.7, seed + 4242u);

    float th = mix(0.0, 1.1, P.y) + mix(0.0, 1.6, P.z) * lowf;
    float e = mix(0.06, 0.3, P.w);
    float v = smoothstep(th - e, th + e, n);
    float rim = smoothstep(e * 2.0, 0.0, abs(n - th));

    vec3 c0 = 0.5 + 0.4 * cos(6.2831853 * (rnd(seed + 7u) + vec3(0.0, 0.1, 0.2)));
    vec3 c1 = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 8u) + vec3(0.0, 0.33, 0.67)));
    c0 *= mix(0.25, 1.0, rnd(seed + 9u));
    vec3 col = mix(c0, c1, v);
    col = mix(col, col * 0.6, 0.5 * rim);
    col *= 0.85 + 0.15 * lowf;
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
