// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: fractaldb
// kind: splat
//
// ifs_0004 -- FractalDB-like category 4: the attractor of one fixed IFS code (7 affine
// maps, made by synpat.gen.fractaldb with filling rate 0.39), drawn by the chaos game:
// synpat scatters the points splatStep makes into a density image, mainImage colours it.
// iSeed  : the instance: which of the 42 parameters is weighted (0.8 .. 1.2), the flips,
//          the colours.
// iParams: x = shading (flat .. log density), y = colour mix (one colour .. one per map).

const int N = 7;
const float CODE[42] = float[](   // per map: a, b, c, d, e, f with x' = a x + b y + e, y' = c x + d y + f
    0.203328, 0.579089, -0.625193, -0.367556, -0.246588, -0.011602,
    -0.049150, -0.740253, -0.267839, -0.238197, -0.512855, -0.411272,
    -0.508645, 0.450817, -0.048204, -0.701580, -0.825110, 0.474335,
    0.703715, 0.300395, -0.451586, 0.511877, -0.129120, 0.965528,
    -0.209974, 0.580031, -0.070015, 0.461618, 0.132208, 0.956496,
    0.191110, -0.288485, 0.472468, 0.184726, -0.585943, 0.220219,
    -0.255518, -0.577230, -0.181497, -0.121864, 0.990600, 0.716871);
const float CUMULATIVE[N] = float[](0.174140, 0.287216, 0.516680, 0.817230, 0.851364, 0.955374, 1.000000);   // map i is picked with probability ~ |det|

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

// the instance's code: one parameter weighted by 0.8, 0.9, 1.0, 1.1 or 1.2
float[6 * N] instanceCode() {
    float m[6 * N] = CODE;
    m[pcg(iSeed) % uint(6 * N)] *= 0.8 + 0.1 * float(pcg(iSeed + 1u) % 5u);
    return m;
}
vec3[N] mapColours() {
    vec3 c[N];
    float h0 = rnd(iSeed + 3u);
    for (int i = 0; i < N; i++)
        c[i] = 0.55 + 0.45 * cos(6.2831853 * (h0 + iParams.y * float(i) / float(N) + vec3(0.0, 0.33, 0.67)));
    return c;
}
float M[6 * N] = instanceCode();
vec3 COLOUR[N] = mapColours();

vec2 splatStep(inout uint rng, vec2 p, out vec3 colour) {
    float u = splatRandom(rng);
    int i = 0;
    while (i < N - 1 && u >= CUMULATIVE[i]) i++;
    int k = 6 * i;
    colour = COLOUR[i];
    return vec2(M[k] * p.x + M[k + 1] * p.y + M[k + 4], M[k + 2] * p.x + M[k + 3] * p.y + M[k + 5]);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint flips = pcg(iSeed + 2u);
    vec2 fc = fragCoord;
    if ((flips & 1u) != 0u) fc.x = iResolution.x - fc.x;
    if ((flips & 2u) != 0u) fc.y = iResolution.y - fc.y;
    vec4 d = splatPixel(fc);   // rgb: the mean colour of the points here, a: log density, 0 .. 1
    float shade = d.a > 0.0 ? mix(1.0, 0.25 + 0.75 * d.a, iParams.x) : 0.0;
    fragColor = vec4(d.rgb * shade, 1.0);
}
