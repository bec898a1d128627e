// scene_events: an acoustic scene: tonal events with ADSR envelopes at random onsets over a coloured noise floor,
// each leaving a reverberant tail (decaying, coloured noise whose level follows the event's).
// family: scene
// iSeed: events; iParams: x event rate, y reverberation time, z noise floor level, w event length.
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
    float len = mix(1.2, 0.25, iParams.x);
    float rt = mix(0.2, 2.0, iParams.y);
    vec2 x = vec2(0.0);
    for (int back = 0; back < 8; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 4000) * 5099u;
        if (rnd(s) < 0.3) continue;
        float nt = t - (slot + 0.8 * rnd(s + 1u)) * len;
        if (nt < 0.0) continue;
        float dur = mix(0.05, 0.8, iParams.w) * (0.5 + rnd(s + 2u));
        float a = 0.3 + 0.7 * rnd(s + 3u);
        float e = adsr(nt, 0.005 + 0.05 * rnd(s + 4u), 0.1, 0.6, dur, 0.05);
        float f0 = 150.0 * exp2(rnd(s + 5u) * 4.0);
        float tone = 0.0;
        for (int k = 1; k <= 5; k++) tone += osc(f0 * float(k) * nt) / float(k * k);
        float pan = rnd(s + 6u);
        float tail = a * 0.3 * exp(-6.9 * max(nt - 0.005, 0.0) / rt) * smoothNoise(float(samp) * 0.3, s + 7u);
        x += a * e * tone * vec2(1.0 - pan, pan) + tail * vec2(0.5 + 0.5 * smoothNoise(float(samp) * 0.3, s + 8u), 1.0);
    }
    float floorN = 0.0;
    for (int j = 0; j < 6; j++) floorN += smoothNoise(float(samp) / exp2(float(j)), iSeed + uint(j) * 13u) * exp2(0.4 * float(j));
    return 0.35 * x + mix(0.005, 0.08, iParams.z) * 0.2 * vec2(floorN);
}
