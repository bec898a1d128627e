// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: fractaldb
// kind: splat
//
// ifs_0009 -- FractalDB-like category 9: the attractor of one fixed IFS code (7 affine
// maps, made by synpat.gen.fractaldb with filling rate 0.42), drawn by the chaos game:
// synpat scatters the points splatStep makes into a density image, mainImage colours it.
// iSeed  : the instance: which of the 42 parameters is weighted (0.8 .. 1.2), the flips,
//          the colours.
// iParams: x = shading (flat .. log density), y = colour mix (one colour .. one per map).

const int N = 7;
const float CODE[42] = float[](   // per map: a, b, c, d, e, f with x' = a x + b y + e, y' = c x + d y + f
    -0.246193, 0.016360, 0.304465, -0.327524, -0.502506, 0.815641,
    0.187410, -0.593265, -0.081542, -0.509393, 0.441524, -0.631595,
    0.687268, -0.101733, 0.119566, 0.535579, -0.048965, 0.780915,
    -0.331369, 0.603721, -0.750168, -0.254219, 0.297640, -0.338824,
    0.689957, -0.411194, 0.179656, -0.294748, -0.780676, -0.443145,
    -0.160959, -0.206366, 0.000044, -0.501454, -0.347538, -0.871946,
    0.504817, -0.441305, 0.361647, -0.446543, 0.682724, -0.523508);
const float CUMULATIVE[N] = float[](0.053544, 0.155348, 0.424473, 0.804631, 0.896279, 0.953411, 1.000000);   // map i is picked with probability ~ |det|

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
