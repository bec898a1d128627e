// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: random_network
//
// cppn_oriented -- random network, oriented variant (stands in for (l)): a tanh CPPN whose
// inputs are the coordinates along and across a random direction, the across one scaled down
// strongly, so the images are elongated streaks along one orientation. Not a StyleGAN.
// iSeed  : the orientation, every weight and bias.
// iParams: x = input scale, y = anisotropy (4x .. 20x), z = output contrast.

#define INPUTS 3
#define WIDTH 8
#define DEPTH 4
#define BIAS 0.5
#define FIRST_GAIN 3.0
#define GAIN 3.0
#define OUT_GAIN 2.0

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

float act(float a) { return tanh(a); }

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
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y * mix(3.0, 8.0, iParams.x);
    float th = 6.2831853 * rnd(iSeed + 99u);
    vec2 dir = vec2(cos(th), sin(th));
    float across = dot(uv, dir), along = dot(uv, vec2(-dir.y, dir.x)) / mix(4.0, 20.0, iParams.y);
    float x[3] = float[3](across, along, 1.0);
    vec3 o = network(x, iSeed);
    fragColor = vec4(1.0 / (1.0 + exp(-mix(1.0, 2.5, iParams.z) * o)), 1.0);
}
