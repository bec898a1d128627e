// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: statistical
//
// stat_wmm_colour -- statistical image model (h): the wavelet-marginal model in colour: a
// luminance field and two smoother chroma fields, each a sum of heavy-tailed Gabor atoms over
// octaves (see stat_wmm_grey), around a random mean colour.
// iSeed  : every coefficient, orientation and phase; the mean colour.
// iParams: x = spectral slope, y = contrast, z = sparsity, w = colourfulness.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }


// Sum of the atoms of octave j around uv: the pixel's cell and its 8 neighbours.
float octave(vec2 uv, uint s, float j, float beta) {
    float cell = 0.5 * exp2(-j);
    vec2 q = uv / cell;
    vec2 ic = floor(q);
    float sum = 0.0;
    for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++) {
        vec2 c = ic + vec2(dx, dy);
        uint h = pcg(uint(int(c.x)) * 0x8DA6B343u ^ pcg(uint(int(c.y)) * 0xD8163841u + s));
        uint h2 = pcg(h);
        vec2 d = q - c - vec2(float(h & 0xFFFFu), float(h >> 16u)) * (1.0 / 65536.0);
        float g = exp(-2.2 * dot(d, d));
        if (g < 0.01) continue;
        float u = max(float(h2 & 0xFFFFu) * (1.0 / 65536.0), 1e-5);
        float w = pow(-log(u), 1.0 / beta) * ((h2 & 0x10000u) != 0u ? -1.0 : 1.0);
        float th = 3.1415927 * float((h2 >> 17u) & 0xFFu) * (1.0 / 256.0);
        g *= cos(5.0 * dot(d, vec2(cos(th), sin(th))) + 6.2831853 * float(h2 >> 25u) * (1.0 / 128.0));
        sum += w * g;
    }
    return sum;
}

float wmm(vec2 uv, uint s, float slope, float beta, int OCTAVES) {
    float v = 0.0, norm = 0.0;
    for (int j = 0; j < OCTAVES; j++) {
        float sd = exp2(-float(j) * slope);
        v += sd * octave(uv + 17.0 * vec2(rnd(s + uint(j)), rnd(s + uint(j) + 50u)), pcg(s + uint(j) * 101u), float(j), beta);
        norm += sd * sd;
    }
    return v / sqrt(norm);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    float slope = mix(0.1, 1.0, iParams.x), beta = mix(1.0, 0.5, iParams.z);
    float l = wmm(uv, iSeed, slope, beta, 6);
    float a = wmm(uv, pcg(iSeed + 1u), slope + 0.3, beta, 3);
    float b = wmm(uv, pcg(iSeed + 2u), slope + 0.3, beta, 3);
    vec3 mean = 0.3 + 0.4 * vec3(rnd(iSeed + 3u), rnd(iSeed + 4u), rnd(iSeed + 5u));
    float c = mix(0.08, 0.18, iParams.y), chroma = c * mix(0.3, 1.2, iParams.w);
    vec3 col = mean + c * l + chroma * (a * vec3(0.7, -0.35, -0.35) + b * vec3(0.0, 0.6, -0.6));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
