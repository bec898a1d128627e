// noise_rain: rain: many drops, each a damped sine whose pitch rises (a resonating bubble), at random onsets, over
// a band of noise (the hiss of distant drops).
// family: noise
// iSeed: the drops; iParams: x drop rate, y drop pitch, z hiss level, w drop size spread.
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
    float len = mix(0.08, 0.008, iParams.x);
    vec2 x = vec2(0.0);
    for (int back = 0; back < 6; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 9000) * 48271u;
        float nt = t - (slot + rnd(s)) * len;
        if (nt < 0.0) continue;
        float f = mix(800.0, 3500.0, iParams.y) * exp2(mix(0.5, 2.0, iParams.w) * (rnd(s + 1u) - 0.5));
        float tau = 0.004 + 0.01 * rnd(s + 2u);
        float ph = f * (nt + 8.0 * nt * nt);                  // the pitch rises through the drop
        float pan = rnd(s + 3u);
        x += rnd(s + 4u) * exp(-nt / tau) * osc(ph) * vec2(1.0 - pan, pan);
    }
    float hiss = smoothNoise(float(samp) * 0.45, iSeed + 5u) - smoothNoise(float(samp) * 0.05, iSeed + 6u);
    return 0.5 * x + mix(0.02, 0.2, iParams.z) * vec2(hiss);
}
