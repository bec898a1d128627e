// scene_percussion: drum patterns: kick (a sine whose pitch falls, phase f1 t + (f0 - f1) tau (1 - e^(-t/tau))),
// snare (noise and a tone), hi-hat (high noise, short) on a step grid with a random pattern, in a small room.
// family: scene
// iSeed: the pattern; iParams: x tempo, y kick pitch, z snare tone, w hat density.
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
    float step = 60.0 / mix(80.0, 170.0, iParams.x) / 4.0;
    vec2 x = vec2(0.0);
    for (int back = 0; back < 4; back++) {
        float slot = floor(t / step) - float(back);
        int pos = int(mod(slot, 16.0));
        float nt = t - slot * step;
        uint s = iSeed + uint(pos) * 131u;
        if (rnd(s) < (pos % 4 == 0 ? 0.8 : 0.15)) {                                 // kick
            float f1 = mix(40.0, 70.0, iParams.y), f0 = f1 * 4.0;
            float ph = f1 * nt + (f0 - f1) * 0.03 * (1.0 - exp(-nt / 0.03));
            x += vec2(0.8 * exp(-nt / 0.2) * osc(ph));
        }
        if (rnd(s + 1u) < (pos % 8 == 4 ? 0.9 : 0.08)) {                            // snare
            float n = white(samp, s + 2u) * exp(-nt / 0.08);
            float tone = osc(mix(150.0, 250.0, iParams.z) * nt) * exp(-nt / 0.05);
            x += 0.4 * vec2(n + tone, 0.9 * n + tone);
        }
        if (rnd(s + 3u) < mix(0.2, 0.95, iParams.w)) {                              // hat
            float h = (white(samp, s + 4u) - smoothNoise(float(samp) * 0.5, s + 5u)) * exp(-nt / 0.02);
            x += 0.15 * vec2(0.6 * h, h);
        }
    }
    return 0.7 * x;
}
