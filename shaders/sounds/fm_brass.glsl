// fm_brass: FM with a 1:1 ratio whose index follows the ADSR envelope (brighter when louder), phrases of notes.
// family: fm
// iSeed: melody; iParams: x attack, y index, z note length, w register.
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
    float len = mix(0.2, 1.2, iParams.z);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 613u;
    float nt = t - slot * len;
    float f = 80.0 * exp2(mix(0.0, 2.0, iParams.w) + floor(rnd(s) * 15.0) / 12.0);
    float e = adsr(nt, mix(0.01, 0.12, iParams.x), 0.1, 0.7, len * 0.6, 0.05);
    float index = mix(0.5, 5.0, iParams.y) * e;
    float x = e * sin(TAU * fract(f * nt) + index * osc(f * nt));
    return vec2(0.4 * x);
}
