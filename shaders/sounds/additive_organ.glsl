// additive_organ: sustained drawbar chords (partials at footages 1/2, 1, 2, 3, 4, 5, 6, 8 of the fundamental) with vibrato.
// family: additive
// iSeed: chord roots and drawbar settings; iParams: x chord length, y vibrato depth, z brightness, w vibrato rate.
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
    float len = mix(0.5, 3.0, iParams.x);
    float slot = floor(t / len);
    uint s = iSeed + uint(slot) * 2654435761u;
    float nt = t - slot * len;
    float root = 65.4 * exp2(floor(rnd(s) * 24.0) / 12.0);
    float rate = mix(4.0, 7.0, iParams.w);
    float ph = t - mix(0.0, 0.006, iParams.y) * cos(TAU * rate * t) / (TAU * rate);   // vibrato: the phase of f (1 + d sin)
    const float foot[8] = float[8](0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0);
    const float third[3] = float[3](1.0, 1.2599, 1.4983);
    float x = 0.0;
    for (int n = 0; n < 3; n++) {
        float f0 = root * third[n];
        for (int k = 0; k < 8; k++) {
            float bar = floor(rnd(iSeed * 17u + uint(k)) * 9.0) / 8.0 * pow(0.7, float(k) * (1.0 - iParams.z));
            float f = f0 * foot[k];
            if (f < 0.45 * iSampleRate) x += bar * osc(f * ph + rnd(s + uint(k + 8 * n)));
        }
    }
    float e = smoothstep(0.0, 0.02, nt) * smoothstep(len, len - 0.03, nt);
    return vec2(0.12 * x * e);
}
