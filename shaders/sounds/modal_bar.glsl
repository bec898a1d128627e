// modal_bar: struck free bars (xylophone, marimba, glockenspiel): modes at 1, 2.756, 5.404, 8.933, 13.34, 19.9
// of the fundamental (Euler-Bernoulli), optionally tuned (marimba 1:4:10), strike position and hardness.
// family: modal
// iSeed: notes and tuning; iParams: x decay, y strike position, z hardness (high modes), w tempo.
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
    const float free[6] = float[6](1.0, 2.756, 5.404, 8.933, 13.34, 19.9);
    const float tuned[6] = float[6](1.0, 4.0, 10.0, 15.6, 22.0, 30.0);
    float t = time - iTime;
    float len = 60.0 / mix(90.0, 300.0, iParams.w);
    float x = 0.0;
    bool isTuned = rnd(iSeed + 77u) < 0.5;
    for (int back = 0; back < 4; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 1000) * 409u;
        if (rnd(s + 3u) < 0.2) continue;
        float nt = t - slot * len;
        float f0 = 260.0 * exp2(floor(rnd(s) * 24.0) / 12.0);
        float pos = mix(0.05, 0.45, iParams.y);
        for (int k = 0; k < 6; k++) {
            float f = f0 * (isTuned ? tuned[k] : free[k]);
            if (f > 0.45 * iSampleRate) break;
            float a = abs(sin(3.14159 * float(k + 1) * pos)) * pow(mix(0.15, 0.7, iParams.z), float(k));
            x += a * exp(-nt * (1.0 + 1.5 * float(k)) / mix(0.15, 1.5, iParams.x)) * osc(f * nt);
        }
    }
    return vec2(0.4 * x);
}
