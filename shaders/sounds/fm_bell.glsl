// fm_bell: two-operator FM with a non-integer carrier:modulator ratio and an index that decays with the amplitude.
// family: fm
// iSeed: pitches, ratios and onsets; iParams: x ratio spread, y peak index, z decay, w note length.
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
    float len = mix(0.5, 2.5, iParams.w);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 97u;
    float nt = t - slot * len;
    float fc = 200.0 * exp2(rnd(s) * 3.0);
    float ratio = 1.0 + floor(rnd(s + 1u) * 4.0) + mix(0.1, 0.9, iParams.x) * rnd(s + 2u);
    float e = exp(-nt / mix(0.3, 2.5, iParams.z)) * min(nt / 0.002, 1.0);
    float index = mix(1.0, 8.0, iParams.y) * e;
    float x = e * sin(TAU * fract(fc * nt) + index * osc(fc * ratio * nt));
    return vec2(0.4 * x);
}
