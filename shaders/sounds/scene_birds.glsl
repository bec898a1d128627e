// scene_birds: birdsong: chirps (fast upward or downward glides with a trill) in phrases at random onsets, over wind.
// family: scene
// iSeed: birds and phrases; iParams: x chirp rate, y pitch, z trill depth, w wind level.
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
    float len = mix(0.4, 0.1, iParams.x);
    vec2 x = vec2(0.0);
    for (int back = 0; back < 2; back++) {
        float slot = floor(t / len) - float(back);
        uint phrase = iSeed + uint(int(floor(slot / 8.0)) + 700) * 977u;
        if (rnd(phrase) < 0.35) continue;                                          // a silent phrase
        uint s = phrase + uint(int(mod(slot, 8.0))) * 13u;
        float nt = t - slot * len;
        float d = len * (0.3 + 0.5 * rnd(s));
        if (nt > d) continue;
        float f0 = mix(2000.0, 5000.0, iParams.y) * exp2(0.5 * rnd(phrase + 1u) - 0.25);
        float sweep = (rnd(s + 1u) - 0.5) * 1.5;
        float tr = mix(0.0, 0.15, iParams.z) * rnd(phrase + 2u);
        float rate = 30.0 + 40.0 * rnd(phrase + 3u);
        float ph = f0 * (nt + sweep * nt * nt / (2.0 * d) - tr * cos(TAU * rate * nt) / (TAU * rate));
        float pan = rnd(phrase + 4u);
        x += sin(3.14159 * nt / d) * osc(ph) * vec2(1.0 - pan, pan);
    }
    float wind = 0.0;
    for (int j = 0; j < 4; j++) wind += smoothNoise(float(samp) * 0.05 * exp2(-float(j)), iSeed + uint(j) * 7u);
    wind *= 0.5 + 0.5 * smoothNoise(time * 0.3, iSeed + 99u);
    return 0.35 * x + mix(0.01, 0.2, iParams.w) * vec2(wind);
}
