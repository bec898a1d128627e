// subtractive_saw: sawtooth notes (partials 1/k) through a resonant two-pole low-pass whose cutoff has its own envelope.
// The filter is applied per partial: |H(f)| = 1 / sqrt((1 - (f/fc)^2)^2 + (f / (fc Q))^2), phase atan of the same.
// family: subtractive
// iSeed: notes; iParams: x cutoff, y resonance Q, z filter envelope amount, w note length.
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
vec2 lowpass(float f, float fc, float q) {                      // (gain, phase in cycles)
    float r = f / fc;
    float re = 1.0 - r * r, im = r / q;
    return vec2(1.0 / sqrt(re * re + im * im), -atan(im, re) / TAU);
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = mix(0.15, 1.0, iParams.w);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 7u;
    float nt = t - slot * len;
    float f0 = 55.0 * exp2(floor(rnd(s) * 36.0) / 12.0);
    float fc = mix(200.0, 3000.0, iParams.x) * (1.0 + mix(0.0, 6.0, iParams.z) * exp(-nt / 0.12));
    float q = mix(0.7, 12.0, iParams.y * iParams.y);
    float x = 0.0;
    for (int k = 1; k <= 64; k++) {
        float f = f0 * float(k);
        if (f > 0.45 * iSampleRate) break;
        vec2 h = lowpass(f, fc, q);
        x += h.x / float(k) * osc(f * nt + h.y);
    }
    float e = adsr(nt, 0.005, 0.2, 0.6, len * 0.5, 0.05);
    return vec2(0.25 * x * e / sqrt(q));
}
