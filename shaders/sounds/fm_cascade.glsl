// fm_cascade: three operators in a chain (modulator -> modulator -> carrier), slowly moving indices: metallic drones.
// family: fm
// iSeed: frequencies and ratios; iParams: x first index, y second index, z index motion rate, w base pitch.
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
    float fc = 60.0 * exp2(mix(0.0, 4.0, iParams.w) + rnd(iSeed) * 0.5);
    float r1 = 0.5 + floor(rnd(iSeed + 1u) * 6.0) * 0.5 + 0.01 * rnd(iSeed + 2u);
    float r2 = 0.25 + floor(rnd(iSeed + 3u) * 8.0) * 0.25;
    float rate = mix(0.05, 1.0, iParams.z);
    float i1 = mix(0.5, 4.0, iParams.x) * (0.6 + 0.4 * sin(TAU * rate * time));
    float i2 = mix(0.5, 4.0, iParams.y) * (0.6 + 0.4 * sin(TAU * rate * 1.618 * time + 1.0));
    float m2 = osc(fc * r2 * time);
    float m1 = sin(TAU * fract(fc * r1 * time) + i2 * m2);
    float x = sin(TAU * fract(fc * time) + i1 * m1);
    float y = sin(TAU * fract(fc * 1.003 * time) + i1 * m1);
    return 0.3 * vec2(x, y);
}
