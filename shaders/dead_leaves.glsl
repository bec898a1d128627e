// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: dead_leaves
//
// dead_leaves -- family: dead-leaves model (front-to-back layers of random
// occluding discs / rounded squares / ellipses with power-law sizes).
// iSeed  : per-layer grid offsets/rotations, shape positions, colours.
// iParams: x = overall shape scale, y = size spread (power-law exponent),
//          z = shape kind mix (discs .. rounded squares .. ellipses),
//          w = palette spread (monochrome-ish .. multicolour).
// iTime  : slow drift of each layer (parallax).

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;

    float baseHue = rnd(seed + 1u);
    float spread = mix(0.12, 0.8, P.w);
    vec3 col = 0.5 + 0.4 * cos(6.2831853 * (baseHue + vec3(0.0, 0.33, 0.67)));  // background
    col *= 0.4 + 0.2 * uv.y;

    for (int l = 0; l < 12; l++) {
        uint ls = pcg(seed + uint(l) * 0x9E3779B9u);
        // cell size shrinks with depth following a power law
        float cell = mix(0.18, 0.6, P.x) * pow(0.82, float(l) * mix(0.4, 1.2, P.y));
        float a = float(ls & 0xFFFFu) * (6.2831853 / 65536.0);
        mat2 R = mat2(cos(a), sin(a), -sin(a), cos(a));
        vec2 q = R * uv / cell + vec2(rnd(ls + 1u), rnd(ls + 2u)) * 50.0
                 + 0.04 * iTime * vec2(1.0, 0.3) * float(l + 1);
        vec2 fl = floor(q);
        ivec2 ic = ivec2(fl);
        vec2 f = q - fl;
        uint h = pcg(uint(ic.x) ^ pcg(uint(ic.y) + ls));
        float r = mix(0.2, 0.5, float(h & 0xFFu) / 255.0);
        vec2 ctr = r + (1.0 - 2.0 * r) * vec2(float((h >> 8u) & 0xFFu), float((h >> 16u) & 0xFFu)) / 255.0;
        vec2 d = f - ctr;
        float kind = float(h >> 24u) / 255.0;
        float sd;
        if (kind < P.z * 0.7) {                      // rounded square
            vec2 k = abs(d) - r * 0.75;
            sd = length(max(k, 0.0)) + min(max(k.x, k.y), 0.0) - r * 0.2;
        } else if (kind > 1.0 - P.z * 0.4) {         // ellipse
            sd = (length(d * vec2(1.0, 1.8)) - r) / 1.8;
        } else {                                     // disc
            sd = length(d) - r;
        }
        if (sd < 0.0) {
            uint hc = pcg(h + 77u);
            float hue = baseHue + spread * (float(hc & 0xFFFFu) / 65535.0 - 0.5);
            float val = mix(0.5, 1.05, float(hc >> 16u) / 65535.0);
            vec3 c = 0.5 + 0.45 * cos(6.2831853 * (hue + vec3(0.0, 0.33, 0.67)));
            // soft interior shading and a thin dark rim for depth cues
            float sh = 0.8 + 0.2 * clamp(-d.y / max(r, 1e-3), -1.0, 1.0);
            float rim = smoothstep(0.0, 0.05, -sd);
            col = c * val * sh * mix(0.55, 1.0, rim);
            break;
        }
    }
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
