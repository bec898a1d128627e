// glide_vibrato: held tones with vibrato (frequency modulation) and tremolo (amplitude modulation) of their own rates.
// family: glide
// iSeed: pitches and timbre; iParams: x vibrato depth, y vibrato rate, z tremolo depth, w tremolo rate.
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
vec2 mainSound(float time) {
    float t = time - iTime;
    float len = 1.0 + 2.0 * rnd(iSeed + 3u);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 211u;
    float f0 = 150.0 * exp2(floor(rnd(s) * 24.0) / 12.0);
    float vr = mix(3.0, 9.0, iParams.y), vd = mix(0.0, 0.04, iParams.x);
    float ph = f0 * (time - vd * cos(TAU * vr * time) / (TAU * vr));
    float x = 0.0;
    for (int k = 1; k <= 8; k++) {
        if (f0 * float(k) > 0.45 * iSampleRate) break;
        x += rnd(iSeed + uint(k) * 9u) / float(k) * osc(float(k) * ph);
    }
    float trem = 1.0 - mix(0.0, 0.9, iParams.z) * (0.5 + 0.5 * sin(TAU * mix(2.0, 12.0, iParams.w) * time));
    float nt = t - slot * len;
    float e = smoothstep(0.0, 0.05, nt) * smoothstep(len, len - 0.05, nt);
    return vec2(0.4 * x * trem * e);
}
