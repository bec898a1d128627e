// modal_plate: struck plates and gongs: many inharmonic modes (a membrane's square-root-spaced density), random
// amplitudes, frequency-dependent damping, slow beating between near modes.
// family: modal
// iSeed: mode set and strike times; iParams: x decay, y brightness, z strikes per second, w size.
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
    float len = 1.0 / mix(0.3, 3.0, iParams.z);
    vec2 x = vec2(0.0);
    for (int back = 0; back < 3; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 500) * 92821u;
        float nt = t - slot * len;
        float f0 = 90.0 * exp2(mix(-0.5, 2.5, iParams.w) + rnd(s) * 0.7);
        float amp = 0.5 + 0.5 * rnd(s + 1u);
        for (int k = 0; k < 24; k++) {
            float ratio = 1.0 + 1.7 * sqrt(float(k)) * (1.0 + 0.2 * rnd(iSeed + uint(k) * 5u)) + 0.37 * float(k);
            float f = f0 * ratio;
            if (f > 0.45 * iSampleRate) break;
            float a = rnd(s + uint(k) * 3u + 11u) * pow(ratio, -mix(1.5, 0.3, iParams.y));
            float tau = mix(0.3, 3.0, iParams.x) / (1.0 + 0.002 * f);
            x += amp * a * exp(-nt / tau) * vec2(osc(f * nt), osc(f * 1.002 * nt + 0.25));
        }
    }
    return 0.25 * x;
}
