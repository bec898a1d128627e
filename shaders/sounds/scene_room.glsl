// scene_room: a room: impacts (footsteps, knocks, door slams: a low thump and a click) with a reverberant tail
// (exponentially decaying noise, darker as it decays), and a mains hum.
// family: scene
// iSeed: events; iParams: x event rate, y reverberation time, z thump pitch, w hum level.
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
    float len = mix(1.0, 0.3, iParams.x);
    float rt = mix(0.3, 2.5, iParams.y);
    vec2 x = vec2(0.0);
    for (int back = 0; back < 10; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 6000) * 8191u;
        if (rnd(s) < 0.35) continue;
        float nt = t - (slot + 0.7 * rnd(s + 1u)) * len;
        if (nt < 0.0) continue;
        float a = 0.3 + 0.7 * rnd(s + 2u);
        float f = mix(50.0, 160.0, iParams.z) * (0.7 + 0.6 * rnd(s + 3u));
        float direct = exp(-nt / 0.04) * osc(f * nt) + 0.5 * white(samp, s) * exp(-nt / 0.003);
        float dark = mix(0.6, 0.05, min(nt / rt, 1.0));
        float tail = 0.25 * exp(-6.9 * nt / rt) * vec2(smoothNoise(float(samp) * dark, s + 4u), smoothNoise(float(samp) * dark, s + 5u)).x;
        float tailR = 0.25 * exp(-6.9 * nt / rt) * smoothNoise(float(samp) * dark, s + 5u);
        x += a * vec2(direct + tail, direct + tailR);
    }
    float hum = mix(0.0, 0.05, iParams.w) * (osc(50.0 * time) + 0.5 * osc(100.0 * time) + 0.25 * osc(150.0 * time));
    return 0.5 * x + vec2(hum);
}
