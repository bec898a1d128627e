// speech_chant: sung vowels: long notes with vibrato, formants morphing slowly between vowels, a second voice a
// fifth or octave away.
// family: speech
// iSeed: melody and vowels; iParams: x note length, y vibrato depth, z f0, w second voice level.
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
    const vec3 table[5] = vec3[5](vec3(730.0, 1090.0, 2440.0), vec3(530.0, 1840.0, 2480.0), vec3(270.0, 2290.0, 3010.0),
                                  vec3(570.0, 840.0, 2410.0), vec3(300.0, 870.0, 2240.0));
    return table[v % 5];
}
float resonance(float f, float F, float B) {
    float r = f / F, q = F / B;
    return 1.0 / sqrt((1.0 - r * r) * (1.0 - r * r) + (r / q) * (r / q));
}
float voice(float f0, vec3 F, float time, float vd) {
    float ph = f0 * (time - vd * cos(TAU * 5.5 * time) / (TAU * 5.5));
    float x = 0.0;
    for (int k = 1; k <= 48; k++) {
        float fk = f0 * float(k);
        if (fk > 5000.0 || fk > 0.45 * iSampleRate) break;
        x += resonance(fk, F.x, 70.0) * resonance(fk, F.y, 90.0) * resonance(fk, F.z, 120.0) / (float(k) * float(k)) * osc(float(k) * ph);
    }
    return x;
}
vec2 mainSound(int samp, float time) {
    float t = time - iTime;
    float len = mix(0.6, 2.5, iParams.x);
    float slot = floor(t / len);
    float nt = t - slot * len;
    uint s = iSeed + uint(int(slot) + 77) * 1237u;
    float f0 = mix(100.0, 300.0, iParams.z) * exp2(floor(rnd(s) * 8.0) / 12.0);
    float m = 0.5 + 0.5 * sin(TAU * time / (3.0 * len));
    vec3 F = mix(vowel(int(hsh(iSeed) % 5u)), vowel(int(hsh(iSeed + 1u) % 5u)), m);
    float vd = mix(0.0, 0.03, iParams.y);
    float second = rnd(s + 1u) < 0.5 ? 1.5 : 2.0;
    float x = voice(f0, F, time, vd) + mix(0.0, 0.7, iParams.w) * voice(f0 * second, F * 1.05, time, vd);
    float e = smoothstep(0.0, 0.08, nt) * smoothstep(len, len - 0.08, nt);
    return vec2(0.03 * x * e);
}
