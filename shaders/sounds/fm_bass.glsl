// fm_bass: low FM plucks (ratio 1/2, 1 or 2) with a fast index decay over a steady pulse.
// family: fm
// iSeed: bass line; iParams: x tempo, y index, z decay, w ratio choice.
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
    float len = 60.0 / mix(80.0, 160.0, iParams.x) / 2.0;
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 31337u;
    float nt = t - slot * len;
    float f = 41.2 * exp2(floor(rnd(s) * 24.0) / 12.0);
    const float ratios[3] = float[3](0.5, 1.0, 2.0);
    float ratio = ratios[int(min(iParams.w * 3.0, 2.0))];
    float e = exp(-nt / mix(0.05, 0.4, iParams.z));
    float index = mix(1.0, 10.0, iParams.y) * exp(-nt / 0.06);
    float x = rnd(s + 5u) < 0.8 ? e * sin(TAU * fract(f * nt) + index * osc(f * ratio * nt)) : 0.0;
    return vec2(0.5 * x);
}
