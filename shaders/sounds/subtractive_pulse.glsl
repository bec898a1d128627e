// subtractive_pulse: pulse waves of moving width d (partial k: sin(pi k d) / k) through a resonant low-pass with an envelope.
// family: subtractive
// iSeed: notes; iParams: x cutoff, y resonance, z pulse-width modulation depth, w tempo.
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
    float len = 60.0 / mix(70.0, 180.0, iParams.w);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 1013u;
    float nt = t - slot * len;
    float f0 = 55.0 * exp2(floor(rnd(s) * 36.0) / 12.0);
    float d = 0.5 - mix(0.05, 0.45, iParams.z) * (0.5 + 0.5 * sin(TAU * 0.7 * time));
    float fc = mix(250.0, 4000.0, iParams.x) * (0.3 + 2.0 * exp(-nt / 0.2));
    float q = mix(0.7, 8.0, iParams.y);
    float x = 0.0;
    for (int k = 1; k <= 64; k++) {
        float f = f0 * float(k);
        if (f > 0.45 * iSampleRate) break;
        vec2 h = lowpass(f, fc, q);
        x += h.x * sin(3.14159265 * float(k) * d) / float(k) * osc(f * nt + h.y);
    }
    float e = adsr(nt, 0.003, 0.15, 0.5, len * 0.4, 0.08);
    return vec2(0.35 * x * e / sqrt(q));
}
