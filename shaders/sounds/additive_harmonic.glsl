// additive_harmonic: notes of harmonic partials with amplitudes k^-gamma, each partial decaying faster than the one below.
// family: additive
// iSeed: the notes' pitches and onsets; iParams: x gamma (spectral tilt), y note length, z decay, w stereo width.
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
    float len = mix(0.25, 1.5, iParams.y);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 7919u;
    float nt = t - slot * len;
    float f0 = 55.0 * exp2(floor(rnd(s) * 48.0) / 12.0);
    float gamma = mix(0.6, 2.2, iParams.x);
    float decay = mix(0.3, 3.0, iParams.z);
    float x = 0.0;
    for (int k = 1; k <= 40; k++) {
        float f = f0 * float(k);
        if (f > 0.45 * iSampleRate) break;
        x += pow(float(k), -gamma) * exp(-nt * float(k) / decay) * osc(f * nt + rnd(s + uint(k)));
    }
    float e = min(nt / 0.005, 1.0) * 0.35;
    float w = mix(0.0, 0.3, iParams.w) * (rnd(s + 99u) - 0.5);
    return vec2(x * e * (1.0 - w), x * e * (1.0 + w));
}
