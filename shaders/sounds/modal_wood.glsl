// modal_wood: knocks on wood and hollow boxes: 3 low-Q modes and a noise click, quickly damped, in irregular rhythms.
// family: modal
// iSeed: rhythm and modes; iParams: x damping, y click level, z density of knocks, w box size.
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
    float len = mix(0.5, 0.08, iParams.z);
    float x = 0.0;
    for (int back = 0; back < 3; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 2000) * 6151u;
        if (rnd(s) < 0.4) continue;
        float nt = t - slot * len - 0.5 * len * rnd(s + 1u);
        if (nt < 0.0) continue;
        float f0 = 150.0 * exp2(mix(-1.0, 2.0, iParams.w) + rnd(s + 2u));
        float damp = mix(0.008, 0.06, iParams.x);
        for (int k = 0; k < 3; k++) {
            float f = f0 * (1.0 + float(k) * (1.4 + rnd(iSeed + uint(k))));
            x += exp(-nt / (damp / (1.0 + float(k)))) * osc(f * nt) / float(k + 1);
        }
        x += mix(0.1, 1.0, iParams.y) * white(samp, s) * exp(-nt / 0.002);
    }
    return vec2(0.5 * x);
}
