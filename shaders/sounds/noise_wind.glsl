// noise_wind: wind: low-passed noise whose level and brightness follow slow gusts, with a whistling resonance.
// family: noise
// iSeed: gusts; iParams: x gust rate, y brightness, z whistle level, w gust depth.
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
    float gust = 0.5 + 0.5 * smoothNoise(time * mix(0.1, 1.0, iParams.x), iSeed);
    gust = mix(1.0, gust, mix(0.3, 1.0, iParams.w));
    float rate = mix(0.02, 0.25, iParams.y) * (0.5 + gust);
    float n = 0.0;
    for (int j = 0; j < 4; j++) n += smoothNoise(float(samp) * rate * exp2(-float(j)), iSeed + uint(j) * 11u) * exp2(-0.5 * float(j));
    float whistleF = mix(400.0, 1500.0, rnd(iSeed + 3u)) * (0.8 + 0.4 * gust);
    float whistle = smoothNoise(float(samp) * 30.0 / iSampleRate, iSeed + 4u) * sin(TAU * whistleF * time);
    float x = gust * (0.6 * n + mix(0.0, 0.5, iParams.z) * gust * whistle);
    return vec2(x, 0.9 * x + 0.1 * smoothNoise(float(samp) * rate, iSeed + 8u));
}
