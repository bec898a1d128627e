// additive_swell: slowly evolving spectra: each partial's amplitude follows its own slow random envelope (k^-gamma on average).
// family: additive
// iSeed: fundamental and the partials' envelopes; iParams: x gamma, y rate of change, z odd/even balance, w pitch range.
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
    float f0 = 50.0 * exp2(rnd(iSeed) * mix(1.0, 4.0, iParams.w));
    float gamma = mix(0.4, 1.6, iParams.x);
    float rate = mix(0.2, 3.0, iParams.y);
    vec2 x = vec2(0.0);
    for (int k = 1; k <= 32; k++) {
        float f = f0 * float(k);
        if (f > 0.45 * iSampleRate) break;
        float even = (k % 2 == 0) ? mix(0.1, 1.0, iParams.z) : 1.0;
        float a = pow(float(k), -gamma) * even * (0.5 + 0.5 * smoothNoise(time * rate + float(k) * 3.1, iSeed + uint(k)));
        float pan = rnd(iSeed + uint(k) * 13u);
        x += a * osc(f * time + rnd(iSeed + uint(k) * 7u)) * vec2(1.0 - pan, pan);
    }
    return 0.4 * x;
}
