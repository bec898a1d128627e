// speech_whisper: whispered vowels: noise (no voicing) through the formants, each formant a band of noise of its
// bandwidth around its frequency; words separated by breaths.
// family: speech
// iSeed: vowels; iParams: x vowel length, y speaker size, z breathiness (broadband share), w loudness contour.
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
vec3 vowel(int v) {
    const vec3 table[6] = vec3[6](vec3(730.0, 1090.0, 2440.0), vec3(530.0, 1840.0, 2480.0), vec3(270.0, 2290.0, 3010.0),
                                  vec3(570.0, 840.0, 2410.0), vec3(300.0, 870.0, 2240.0), vec3(660.0, 1720.0, 2410.0));
    return table[v % 6];
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = mix(0.15, 0.5, iParams.x);
    float slot = floor(t / len);
    float nt = t - slot * len;
    uint s = iSeed + uint(int(slot) + 10) * 271u;
    vec3 a = vowel(int(hsh(s) % 6u)), b = vowel(int(hsh(s + 271u) % 6u));
    vec3 F = mix(0.85, 1.3, iParams.y) * mix(a, b, smoothstep(0.6 * len, len, nt));
    const vec3 bw = vec3(120.0, 150.0, 220.0), amp = vec3(1.0, 0.6, 0.3);
    float x = 0.0;
    for (int i = 0; i < 3; i++) {
        float n = smoothNoise(float(samp) * bw[i] / iSampleRate, s + uint(i) * 3u);
        x += amp[i] * n * osc(F[i] * time);
    }
    x += mix(0.0, 0.4, iParams.z) * white(samp, s + 50u);
    float env = sin(3.14159 * nt / len) * mix(1.0, 0.3 + 0.7 * rnd(s + 9u), iParams.w);
    return vec2(0.45 * x * env);
}
