// noise_bandpass: band-passed noise as smooth noise of bandwidth B ring-modulated onto centre fc (a band of 2B
// around fc), several bands that drift: whistles, hums, air conditioning.
// family: noise
// iSeed: bands; iParams: x centre range, y bandwidth, z drift rate, w number of bands.
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
    int bands = 1 + int(iParams.w * 4.0);
    vec2 x = vec2(0.0);
    for (int b = 0; b < 5; b++) {
        if (b >= bands) break;
        uint s = iSeed + uint(b) * 1777u;
        float fc = mix(150.0, 4000.0, iParams.x) * exp2(2.0 * rnd(s) - 1.0 + 0.5 * smoothNoise(time * mix(0.05, 1.0, iParams.z), s));
        float bw = mix(10.0, 400.0, iParams.y * iParams.y);
        float n = smoothNoise(float(samp) * bw / iSampleRate, s + 1u);
        float pan = rnd(s + 2u);
        x += n * osc(fc * time) * vec2(1.0 - pan, pan);
    }
    return 0.7 * x / sqrt(float(bands));
}
