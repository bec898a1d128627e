// speech_syllables: consonant-vowel syllables: a noise burst (fricative: band noise; plosive: a click) then a voiced
// vowel whose formants glide in from the consonant's locus; syllables at a speaking rate, pauses between phrases.
// family: speech
// iSeed: syllables and voice; iParams: x speaking rate, y speaker size, z f0, w fricative share.
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
float resonance(float f, float F, float B) {
    float r = f / F, q = F / B;
    return 1.0 / sqrt((1.0 - r * r) * (1.0 - r * r) + (r / q) * (r / q));
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = 1.0 / mix(2.5, 6.0, iParams.x);
    float slot = floor(t / len);
    float nt = t - slot * len;
    uint s = iSeed + uint(int(slot) + 300) * 7727u;
    if (rnd(s + 7u) < 0.15) return vec2(0.0);                       // a pause
    float k0 = mix(0.85, 1.3, iParams.y);
    vec3 V = k0 * vowel(int(hsh(s) % 6u));
    vec3 locus = k0 * vec3(250.0, mix(900.0, 2200.0, rnd(s + 1u)), 2600.0);
    float cons = 0.25 * len;
    vec3 F = mix(locus, V, smoothstep(cons, cons + 0.05, nt));
    float x = 0.0;
    if (nt < cons) {
        bool fric = rnd(s + 2u) < iParams.w;
        float fc = mix(2500.0, 6000.0, rnd(s + 3u));
        float n = smoothNoise(float(samp) * 800.0 / iSampleRate, s) * osc(fc * time);
        x = fric ? 0.3 * n * smoothstep(0.0, 0.01, nt) : white(samp, s) * exp(-nt / 0.004);
    } else {
        float f0 = mix(85.0, 250.0, iParams.z) * (1.0 + 0.1 * sin(TAU * 0.4 * time + float(iSeed & 255u)) - 0.1 * nt);
        float vt = nt - cons;
        float x0 = 0.0;
        for (int k = 1; k <= 64; k++) {
            float fk = f0 * float(k);
            if (fk > 5000.0 || fk > 0.45 * iSampleRate) break;
            float g = resonance(fk, F.x, 90.0) * resonance(fk, F.y, 110.0) * resonance(fk, F.z, 170.0);
            x0 += g / (float(k) * float(k)) * osc(f0 * float(k) * time);
        }
        x = 0.05 * x0 * smoothstep(0.0, 0.02, vt) * smoothstep(len - cons, len - cons - 0.04, vt);
    }
    return vec2(x);
}
