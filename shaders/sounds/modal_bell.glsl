// modal_bell: struck bells: damped partials at a church bell's ratios (hum, prime, tierce, quint, nominal, ...),
// each ratio detuned per bell, higher modes dying faster; the strike position weights the modes.
// family: modal
// iSeed: bells and strike times; iParams: x decay, y strike position, z strike rate, w size (pitch).
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
    const float ratio[8] = float[8](0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662, 3.011);
    float t = time - iTime;
    float len = mix(0.6, 3.0, iParams.z);
    vec2 x = vec2(0.0);
    for (int back = 0; back < 3; back++) {
        float slot = floor(t / len) - float(back);
        uint s = iSeed + uint(int(slot) + 100) * 733u;
        float nt = t - slot * len - 0.1 * len * rnd(s + 9u);
        if (nt < 0.0) continue;
        float f0 = 180.0 * exp2(mix(-1.0, 2.0, iParams.w) + rnd(s) * 1.5);
        float pos = mix(0.05, 0.5, iParams.y);
        for (int k = 0; k < 8; k++) {
            float f = f0 * ratio[k] * (1.0 + 0.01 * (rnd(s + uint(k)) - 0.5));
            if (f > 0.45 * iSampleRate) break;
            float a = abs(sin(3.14159 * float(k + 1) * pos)) / sqrt(float(k + 1));
            float tau = mix(0.5, 4.0, iParams.x) / (1.0 + 0.4 * float(k));
            float pan = rnd(s + 40u);
            x += a * exp(-nt / tau) * osc(f * nt) * vec2(1.0 - pan, pan);
        }
    }
    return 0.3 * x;
}
