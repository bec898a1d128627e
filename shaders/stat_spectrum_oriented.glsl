// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: statistical
//
// stat_spectrum_oriented -- statistical image model: grey 1/f^alpha noise whose spectrum is
// concentrated around a random orientation (anisotropic), random alpha.
// iSeed  : the dominant orientation, the waves' frequencies, orientations and phases.
// iParams: x = alpha, y = contrast, z = orientation spread (narrow .. half the circle).

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

// A random field with amplitude spectrum ~ 1/f^alpha: WAVES plane waves of random phase whose
// frequencies are log-uniform on [1, 96] cycles per image height; a wave stands for its share of
// the annulus around its frequency, so its amplitude is f^(1 - alpha). Orientation: uniform, or
// concentrated around theta0 with spread `spread` (1 = isotropic). -> zero-mean, unit variance.
float spectrumField(vec2 uv, uint s, float alpha, float theta0, float spread, int waves) {
    float sum = 0.0, power = 0.0;
    for (int k = 0; k < waves; k++) {
        uint h = pcg(s + uint(k) * 0x68E31DA4u);
        float f = pow(96.0, (float(k) + rnd(h)) / float(waves));        // stratified log-uniform
        float th = theta0 + (rnd(h + 1u) - 0.5) * 3.1415927 * spread;
        float a = pow(f, 1.0 - alpha);
        sum += a * sin(6.2831853 * (f * dot(uv, vec2(cos(th), sin(th))) + rnd(h + 2u)));
        power += 0.5 * a * a;
    }
    return sum / sqrt(power);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    float alpha = mix(0.8, 2.2, iParams.x);
    float v = spectrumField(uv, iSeed, alpha, 6.2831853 * rnd(iSeed + 77u), mix(0.08, 0.5, iParams.z), 64);
    fragColor = vec4(vec3(clamp(0.5 + mix(0.12, 0.25, iParams.y) * v, 0.0, 1.0)), 1.0);
}
