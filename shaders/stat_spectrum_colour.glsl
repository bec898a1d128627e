// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: statistical
//
// stat_spectrum_colour -- statistical image model (f): 1/f^alpha noise in colour: three
// independent fields (one per opponent channel: luminance and two chroma axes, the chroma
// ones smoother) mixed into RGB around a random mean colour.
// iSeed  : the three fields' waves, the mean colour.
// iParams: x = alpha, y = contrast, z = colourfulness.

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
    float l = spectrumField(uv, iSeed, alpha, 0.0, 1.0, 48);
    float a = spectrumField(uv, pcg(iSeed + 1u), alpha + 0.3, 0.0, 1.0, 24);
    float b = spectrumField(uv, pcg(iSeed + 2u), alpha + 0.3, 0.0, 1.0, 24);
    vec3 mean = 0.3 + 0.4 * vec3(rnd(iSeed + 3u), rnd(iSeed + 4u), rnd(iSeed + 5u));
    float c = mix(0.1, 0.22, iParams.y), chroma = c * mix(0.3, 1.2, iParams.z);
    vec3 col = mean + c * l + chroma * (a * vec3(0.7, -0.35, -0.35) + b * vec3(0.0, 0.6, -0.6));
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
