// noise_coloured: coloured noise from octave layers (Voss-McCartney style: layer j changes every 2^j samples,
// smoothly, weighted 2^(j alpha / 2)): white (alpha 0) to pink (1) to brown (2); slow level swells.
// family: noise
// iSeed: the noise; iParams: x colour alpha in [0, 2], y swell depth, z swell rate, w stereo decorrelation.
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
    float alpha = 2.0 * iParams.x;
    vec2 x = vec2(0.0);
    float norm = 0.0;
    for (int j = 0; j < 12; j++) {
        float w = exp2(float(j) * alpha * 0.5);
        float at = float(samp) / exp2(float(j));
        float l = smoothNoise(at, iSeed + uint(j) * 101u);
        float r = mix(l, smoothNoise(at, iSeed + uint(j) * 101u + 7u), iParams.w);
        x += w * vec2(l, r);
        norm += w * w;
    }
    float swell = 1.0 - iParams.y * (0.5 + 0.5 * smoothNoise(time * mix(0.2, 3.0, iParams.z), iSeed + 3u));
    return 0.5 * swell * x / sqrt(norm);
}
