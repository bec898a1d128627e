// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: escape_fractal
//
// fractal_escape -- family: Julia / Mandelbrot escape-time fractals with smooth
// (continuous) iteration colouring, <= 96 iterations.
// iSeed  : Julia constant on a ring near the Mandelbrot boundary, view
//          rotation, palette phases.
// iParams: x = zoom, y = Julia vs Mandelbrot (y > 0.8: Mandelbrot close-up at a
//          seeded boundary point), z = palette frequency, w = interior colour.
// iTime  : Julia constant drifts slowly along its ring.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

// a point on the main cardioid boundary, pushed slightly outwards
vec2 cardioid(float th, float push) {
    vec2 e = vec2(cos(th), sin(th));
    vec2 e2 = vec2(cos(2.0 * th), sin(2.0 * th));
    return (0.5 * e - 0.25 * e2) * (1.0 + push);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
    float ra = 6.2831853 * rnd(seed + 1u);
    mat2 R = mat2(cos(ra), sin(ra), -sin(ra), cos(ra));
    uv = R * uv;

    bool mandel = P.y > 0.8;
    float th = 6.2831853 * rnd(seed + 2u) + 0.03 * iTime;
    vec2 c, z;
    if (mandel) {
        vec2 centre = cardioid(th, 0.02 + 0.05 * rnd(seed + 3u));
        float zoom = exp2(-mix(1.0, 6.0, P.x));
        c = centre + uv * zoom * 2.0;
        z = vec2(0.0);
    } else {
        c = cardioid(th, mix(0.0, 0.12, rnd(seed + 3u)));
        float zoom = mix(2.6, 0.8, P.x);
        z = uv * zoom;
    }

    const int MAXIT = 96;
    float it = 0.0;
    float trap = 1e9;
    bool esc = false;
    for (int i = 0; i < MAXIT; i++) {
        z = vec2(z.x * z.x - z.y * z.y, 2.0 * z.x * z.y) + c;
        float m2 = dot(z, z);
        trap = min(trap, m2);
        if (m2 > 256.0) { esc = true; break; }
        it += 1.0;
    }

    vec3 ph = rnd(seed + 5u) + vec3(0.0, 0.1 + 0.25 * rnd(seed + 6u), 0.25 + 0.3 * rnd(seed + 7u));
    vec3 col;
    if (esc) {
        float m2 = max(dot(z, z), 256.0);
        float sit = it - log2(max(log2(m2), 1e-3)) + 4.0;   // smooth iteration count
        sit = max(sit, 0.0);
        float v = log(1.0 + sit) / log(1.0 + float(MAXIT));  // [0,1]
        col = 0.5 + 0.5 * cos(6.2831853 * (mix(0.7, 1.8, P.z) * v + ph));
        col *= 0.25 + 0.75 * smoothstep(0.05, 0.5, v);
        // pixels that escape late lie near the set boundary: fade them to a
        // calm edge colour instead of aliasing palette bands
        vec3 edge = 0.5 + 0.5 * cos(6.2831853 * (ph + 0.5));
        col = mix(col, edge, smoothstep(0.55, 0.95, v));
    } else {
        float tr = sqrt(sqrt(trap));
        vec3 inner = 0.5 + 0.5 * cos(6.2831853 * (tr * 1.5 + ph + 0.5));
        col = mix(vec3(0.05), inner, P.w);
    }
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}
