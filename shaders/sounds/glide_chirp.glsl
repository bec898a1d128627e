// glide_chirp: exponential sweeps up or down (phase f0 T / ln r (r^(t/T) - 1)), repeated, with harmonics.
// family: glide
// iSeed: directions and ranges; iParams: x sweep length, y range in octaves, z harmonics, w gap.
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
vec2 mainSound(float time) {
    float t = time - iTime;
    float T = mix(0.05, 1.0, iParams.x);
    float len = T * (1.0 + iParams.w);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 3571u;
    float nt = t - slot * len;
    if (nt > T) return vec2(0.0);
    float oct = mix(0.5, 4.0, iParams.y) * (rnd(s) < 0.5 ? 1.0 : -1.0);
    float f0 = 200.0 * exp2(rnd(s + 1u) * 3.0 - (oct < 0.0 ? oct : 0.0));
    float lr = oct * log(2.0);
    float ph = f0 * T / lr * (exp(lr * nt / T) - 1.0);
    float x = 0.0;
    for (int k = 1; k <= 4; k++) {
        if (f0 * float(k) * exp2(max(oct, 0.0)) > 0.45 * iSampleRate) break;
        x += pow(mix(0.05, 0.6, iParams.z), float(k - 1)) * osc(float(k) * ph);
    }
    float e = sin(3.14159 * nt / T);
    return vec2(0.4 * x * e);
}
