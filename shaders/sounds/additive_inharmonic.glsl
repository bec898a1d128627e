// additive_inharmonic: stiff-string tones, partial k at k f0 sqrt(1 + B k^2) (B the inharmonicity), amplitudes k^-gamma.
// family: additive
// iSeed: pitches and onsets; iParams: x inharmonicity B, y gamma, z note length, w decay.
const float TAU = 6.28318530718;
uint hsh(uint x) { x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16; return x; }
float rnd(uint s) { return float(hsh(s) >> 8) / 16777216.0; }                 // [0, 1)
float osc(float cycles) { return sin(TAU * fract(cycles)); }                  // a sine of a phase in cycles
float white(int n, uint s) { return 2.0 * rnd(uint(n) ^ hsh(s)) - 1.0; }     // white noise at integer n
float smoothNoise(float x, uint s) {                                          // value noise, one value a unit
    float i = floor(x), f = x - i;
    f = f * f * (3.0 - 2.0 * f);
    return mix(white(int(i), s), white(int(i) + 1, s), f);
}
float adsr(float t, float a, float d, float s, float hold, float r) {        // attack, decay, sustain level, hold, release
    if (t < 0.0) return 0.0;
    if (t < a) return t / a;
    if (t < a + d) return mix(1.0, s, (t - a) / d);
    if (t < a + d + hold) return s;
    return s * exp(-(t - a - d - hold) / r);
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = mix(0.4, 2.0, iParams.z);
    float slot = floor(t / len);
    uint s = iSeed * 31u + uint(slot) * 104729u;
    float nt = t - slot * len;
    float f0 = 40.0 * exp2(rnd(s) * 4.5);
    float B = mix(0.0002, 0.02, iParams.x * iParams.x);
    float gamma = mix(0.5, 1.8, iParams.y);
    float tau = mix(0.4, 4.0, iParams.w);
    float x = 0.0;
    for (int k = 1; k <= 48; k++) {
        float fk = float(k);
        float f = f0 * fk * sqrt(1.0 + B * fk * fk);
        if (f > 0.45 * iSampleRate) break;
        x += pow(fk, -gamma) * exp(-nt * (1.0 + 0.15 * fk) / tau) * osc(f * nt + rnd(s + uint(k)));
    }
    x *= 0.3 * min(nt / 0.003, 1.0);
    return vec2(x);
}
