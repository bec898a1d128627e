// subtractive_bandpass: a sawtooth drone through a resonant band-pass whose centre wanders (a "wah"): partial gains
// |H(f)| = (f / (fc Q)) / sqrt((1 - (f/fc)^2)^2 + (f / (fc Q))^2).
// family: subtractive
// iSeed: pitch and the wander; iParams: x centre, y Q, z wander rate, w detune of the second voice.
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
float bandpass(float f, float fc, float q) {
    float r = f / fc;
    float re = 1.0 - r * r, im = r / q;
    return im / sqrt(re * re + im * im);
}
vec2 mainSound(int samp, float time) {
    float f0 = 45.0 * exp2(rnd(iSeed) * 3.0);
    float fc = mix(300.0, 2500.0, iParams.x) * exp2(1.2 * smoothNoise(time * mix(0.3, 3.0, iParams.z), iSeed + 5u));
    float q = mix(2.0, 16.0, iParams.y);
    vec2 x = vec2(0.0);
    for (int k = 1; k <= 64; k++) {
        float f = f0 * float(k);
        if (f > 0.45 * iSampleRate) break;
        float g = bandpass(f, fc, q) / float(k);
        x += g * vec2(osc(f * time), osc(f * (1.0 + mix(0.0, 0.01, iParams.w)) * time + 0.3));
    }
    return 0.5 * x;
}
