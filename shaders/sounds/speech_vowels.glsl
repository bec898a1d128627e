// speech_vowels: a glottal pulse train (harmonics of f0 falling ~12 dB an octave) through three cascaded formant
// resonators that move between vowel targets (a, e, i, o, u, ae, er); intonation as a slow f0 contour.
// family: speech
// iSeed: vowel sequence and voice; iParams: x vowel length, y speaker size (formant scale), z f0, w intonation.
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
    const vec3 table[7] = vec3[7](vec3(730.0, 1090.0, 2440.0), vec3(530.0, 1840.0, 2480.0), vec3(270.0, 2290.0, 3010.0),
                                  vec3(570.0, 840.0, 2410.0), vec3(300.0, 870.0, 2240.0), vec3(660.0, 1720.0, 2410.0),
                                  vec3(490.0, 1350.0, 1690.0));
    return table[v % 7];
}
float resonance(float f, float F, float B) {
    float r = f / F, q = F / B;
    return 1.0 / sqrt((1.0 - r * r) * (1.0 - r * r) + (r / q) * (r / q));
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = mix(0.12, 0.6, iParams.x);
    float slot = floor(t / len);
    float nt = t - slot * len;
    uint s = iSeed * 5u;
    float k0 = mix(0.85, 1.3, iParams.y);
    vec3 a = vowel(int(hsh(s + uint(int(slot) + 50)) % 7u)), b = vowel(int(hsh(s + uint(int(slot) + 51)) % 7u));
    vec3 F = k0 * mix(a, b, smoothstep(len - 0.06, len, nt));
    float f0 = mix(85.0, 260.0, iParams.z);
    float ir = 0.3 + rnd(s + 3u), ia = mix(0.0, 0.15, iParams.w);
    float ph = f0 * (time - ia * cos(TAU * ir * time) / (TAU * ir));
    float x = 0.0;
    for (int k = 1; k <= 64; k++) {
        float fk = f0 * float(k);
        if (fk > 5000.0 || fk > 0.45 * iSampleRate) break;
        float g = resonance(fk, F.x, 80.0) * resonance(fk, F.y, 100.0) * resonance(fk, F.z, 150.0);
        x += g / (float(k) * float(k)) * osc(float(k) * ph);
    }
    float syll = smoothstep(0.0, 0.03, nt) * (rnd(s + uint(int(slot) + 900)) < 0.85 ? 1.0 : 0.0);
    return vec2(0.05 * x * syll);
}
