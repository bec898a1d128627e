// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: procedural_noise
//
// fbm -- family: fbm (fractional Brownian motion of gradient noise).
// iSeed  : lattice hash salt, domain offset, rotation and palette phases.
// iParams: x = base scale, y = octave count (3..6, fractional fade),
//          z = roughness (octave gain), w = palette contrast / banding.
// iTime  : slow drift of the noise domain.

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

float fbm(vec2 p, float octaves, float gain, uint salt) {
    float sum = 0.0, amp = 0.5, norm = 0.0;
    mat2 rot = mat2(0.8, 0.6, -0.6, 0.8);
    for (int i = 0; i < 6; i++) {
        float w = clamp(octaves - float(i), 0.0, 1.0);
        if (w <= 0.0) break;
        sum += w * amp * gnoise(p, salt + uint(i) * 1013u);
        norm += w * amp;
        amp *= gain;
        p = rot * p * 2.03 + vec2(17.1, -3.7);
    }
    return sum / max(norm, 1e-4);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;

    float ang = 6.2831853 * rnd(seed ^ 0x1234567u);
    mat2 R = mat2(cos(ang), sin(ang), -sin(ang), cos(ang));
    float scale = mix(1.5, 5.0, P.x);
    vec2 off = vec2(rnd(seed + 11u), rnd(seed + 23u)) * 64.0;
    vec2 p = R * uv * scale + off + 0.07 * iTime * vec2(1.0, 0.6);

    float oct = mix(3.0, 6.0, P.y);
    float gain = mix(0.38, 0.62, P.z);
    float n = fbm(p, oct, gain, seed);             // ~[-0.7, 0.7]
    float t = clamp(0.5 + 1.1 * n, 0.0, 1.0);

    // cosine palette with seeded phases; w controls contrast / soft banding
    vec3 ph = vec3(rnd(seed + 101u), rnd(seed + 202u), rnd(seed + 303u));
    float freq = mix(0.6, 1.6, P.w);
    vec3 col = 0.5 + 0.45 * cos(6.2831853 * (freq * t + ph));
    float shade = smoothstep(0.05, 0.95, t);
    col *= mix(0.55, 1.05, shade);
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
