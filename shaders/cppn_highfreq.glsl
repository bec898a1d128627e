// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: random_network
//
// cppn_highfreq -- random network, high-frequency variant (stands in for (j)): the CPPN's
// first layer is sinusoidal (SIREN-like, large frequency factor), so the images hold fine,
// dense oscillating detail. Not a StyleGAN.
// iSeed  : every weight and bias.
// iParams: x = first-layer frequency (omega 10 .. 40), y = weight gain, z = output contrast.

#define INPUTS 3
#define WIDTH 8
#define DEPTH 3
#define BIAS 1.0
#define FIRST_GAIN omega
#define GAIN 1.5
#define OUT_GAIN 2.0

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

float omega;
float act(float a) { return sin(a); }

// A weight of layer l from unit i to unit j, uniform with variance gain^2 / fan_in.
float weight(uint s, int l, int i, int j, float fanIn, float gain) {
    uint h = pcg(s ^ (uint(l) * 0x9E3779B9u + uint(i) * 0x85EBCA6Bu + uint(j) * 0xC2B2AE35u));
    return (float(h >> 8u) * (2.0 / 16777216.0) - 1.0) * 1.7320508 * gain / sqrt(fanIn);
}

// The network: INPUTS coordinates -> DEPTH hidden layers of WIDTH units -> 3 outputs.
vec3 network(float x[INPUTS], uint s) {
    float h[WIDTH];
    for (int j = 0; j < WIDTH; j++) {
        float a = weight(s, 0, INPUTS, j, 1.0, BIAS);
        for (int i = 0; i < INPUTS; i++) a += weight(s, 0, i, j, float(INPUTS), FIRST_GAIN) * x[i];
        h[j] = act(a);
    }
    for (int l = 1; l < DEPTH; l++) {
        float n[WIDTH];
        for (int j = 0; j < WIDTH; j++) {
            float a = weight(s, l, WIDTH, j, 1.0, BIAS);
            for (int i = 0; i < WIDTH; i++) a += weight(s, l, i, j, float(WIDTH), GAIN) * h[i];
            n[j] = act(a);
        }
        h = n;
    }
    vec3 o;
    for (int c = 0; c < 3; c++) {
        float a = 0.0;
        for (int i = 0; i < WIDTH; i++) a += weight(s, DEPTH, i, c, float(WIDTH), OUT_GAIN) * h[i];
        o[c] = a;
    }
    return o;
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    omega = mix(10.0, 40.0, iParams.x);
    float x[3] = float[3](uv.x, uv.y, 1.0);
    vec3 o = network(x, iSeed);
    fragColor = vec4(1.0 / (1.0 + exp(-mix(1.0, 2.5, iParams.z) * o)), 1.0);
}
