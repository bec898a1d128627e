// glide_portamento: melodies that slide between notes (pitch moves exponentially to each new note), as trombones
// and voices glide; the phase sums exact segments.
// family: glide
// iSeed: melody; iParams: x note length, y glide time, z brightness, w register.
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
float noteF(float slot, uint seed, float reg) { return 110.0 * exp2(reg + floor(rnd(seed + uint(int(slot) + 64) * 389u) * 19.0) / 12.0); }
vec2 mainSound(float time) {
    float t = time - iTime;
    float len = mix(0.15, 0.8, iParams.x);
    float slot = floor(t / len);
    float nt = t - slot * len;
    float reg = mix(-1.0, 1.5, iParams.w);
    float fa = noteF(slot - 1.0, iSeed, reg), fb = noteF(slot, iSeed, reg);
    float g = mix(0.01, 0.9, iParams.y) * len;
    // phase so far: previous notes approximated at their target pitch, this note's glide exactly
    float base = 0.0;
    for (int k = 1; k <= 6; k++) base += noteF(slot - float(k), iSeed, reg) * len;
    float u = min(nt, g), lr = log(fb / fa);
    float glide = abs(lr) < 1e-4 ? fa * u : fa * g / lr * (exp(lr * u / g) - 1.0);
    float ph = base + glide + fb * max(nt - g, 0.0);
    float x = 0.0;
    for (int k = 1; k <= 6; k++) x += pow(mix(0.1, 0.7, iParams.z), float(k - 1)) * osc(float(k) * ph);
    return vec2(0.35 * x);
}
