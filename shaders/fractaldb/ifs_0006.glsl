// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: fractaldb
// kind: splat
//
// ifs_0006 -- FractalDB-like category 6: the attractor of one fixed IFS code (6 affine
// maps, made by synpat.gen.fractaldb with filling rate 0.26), drawn by the chaos game:
// synpat scatters the points splatStep makes into a density image, mainImage colours it.
// iSeed  : the instance: which of the 36 parameters is weighted (0.8 .. 1.2), the flips,
//          the colours.
// iParams: x = shading (flat .. log density), y = colour mix (one colour .. one per map).

const int N = 6;
const float CODE[36] = float[](   // per map: a, b, c, d, e, f with x' = a x + b y + e, y' = c x + d y + f
    -0.407488, 0.021921, -0.005670, -0.512677, 0.650603, -0.133373,
    -0.326294, -0.318092, 0.649288, -0.091402, 0.896707, -0.375600,
    0.109499, -0.225096, 0.509801, 0.377880, 0.371545, 0.543189,
    -0.202788, -0.761828, 0.635867, -0.308955, 0.383525, 0.976932,
    -0.786694, 0.093670, -0.260075, 0.211716, -0.966656, -0.670048,
    0.079662, 0.219815, -0.835572, 0.272756, 0.682442, -0.426433);
const float CUMULATIVE[N] = float[](0.139711, 0.297684, 0.402036, 0.767681, 0.862719, 1.000000);   // map i is picked with probability ~ |det|

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
