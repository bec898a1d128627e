// noise_crackle: fire and vinyl crackle: sparse clicks (a 1 ms cell fires with some probability), each a short
// decaying burst of noise, over a faint hiss.
// family: noise
// iSeed: the clicks; iParams: x density, y click length, z hiss level, w loudness spread.
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
    float cell = 0.001 * iSampleRate;
    float c = floor(float(samp) / cell);
    float x = 0.0;
    for (int back = 0; back < 4; back++) {
        uint s = iSeed + uint(int(c) - back) * 2246822519u;
        if (rnd(s) > mix(0.005, 0.15, iParams.x)) continue;
        float start = (c - float(back) + rnd(s + 1u)) * cell;
        float dt = (float(samp) - start) / iSampleRate;
        if (dt < 0.0) continue;
        float a = pow(rnd(s + 2u), mix(0.5, 4.0, iParams.w));
        x += a * white(samp, s) * exp(-dt / mix(0.0002, 0.002, iParams.y));
    }
    x += mix(0.003, 0.05, iParams.z) * white(samp, iSeed + 9u);
    return vec2(0.8 * x);
}
