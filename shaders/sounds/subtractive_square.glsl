// subtractive_square: square waves (odd partials 1/k) through a resonant low-pass swept by an LFO.
// family: subtractive
// iSeed: notes; iParams: x base cutoff, y resonance, z LFO rate, w note length.
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
vec2 lowpass(float f, float fc, float q) {
    float r = f / fc;
    float re = 1.0 - r * r, im = r / q;
    return vec2(1.0 / sqrt(re * re + im * im), -atan(im, re) / TAU);
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = mix(0.2, 1.2, iParams.w);
    float slot = floor(t / len);
    uint s = iSeed * 3u + uint(slot) * 19u;
    float nt = t - slot * len;
    float f0 = 65.0 * exp2(floor(rnd(s) * 30.0) / 12.0);
    float fc = mix(300.0, 2500.0, iParams.x) * exp2(1.5 * sin(TAU * mix(0.1, 4.0, iParams.z) * time));
    float q = mix(1.0, 10.0, iParams.y);
    float x = 0.0;
    for (int k = 1; k <= 63; k += 2) {
        float f = f0 * float(k);
        if (f > 0.45 * iSampleRate) break;
        vec2 h = lowpass(f, fc, q);
        x += h.x / float(k) * osc(f * nt + h.y);
    }
    float e = adsr(nt, 0.01, 0.1, 0.8, len * 0.7, 0.04);
    return vec2(0.3 * x * e / sqrt(q));
}
