// glide_siren: sirens: pitch f(t) = fc (1 + d sin(2 pi fm t)) (wail) or switching two tones (hi-lo), phase integrated
// analytically, with a few odd harmonics.
// family: glide
// iSeed: the siren type and pitch; iParams: x modulation rate, y depth, z brightness, w doppler-like drift.
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
    float fc = 500.0 * exp2(rnd(iSeed) * 1.5);
    float fm = mix(0.2, 4.0, iParams.x);
    float d = mix(0.1, 0.45, iParams.y);
    float drift = 1.0 + mix(-0.1, 0.1, iParams.w) * (time - iTime) / 10.0;
    float ph;
    if (rnd(iSeed + 1u) < 0.6) {
        ph = fc * drift * (time - d * cos(TAU * fm * time) / (TAU * fm));
    } else {                                             // hi-lo: the phase of a square-wave pitch
        float period = 1.0 / fm, c = floor(time / period), r = time - c * period;
        ph = fc * drift * (c * period + (r < 0.5 * period ? r * (1.0 + d) : 0.5 * period * (1.0 + d) + (r - 0.5 * period) * (1.0 - d)));
    }
    float x = 0.0;
    for (int k = 1; k <= 7; k += 2) x += pow(mix(0.05, 0.5, iParams.z), float(k / 2)) * osc(float(k) * ph);
    return vec2(0.4 * x);
}
