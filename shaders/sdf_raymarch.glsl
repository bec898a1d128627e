// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: raymarch
//
// sdf_raymarch -- family: small raymarched signed-distance scene
// (three smooth-blended primitives over a ground plane, <= 64 steps, diffuse +
// specular lighting, cheap ambient occlusion, sky gradient).
// iSeed  : primitive shapes, positions, colours, light direction.
// iParams: x = camera distance, y = camera elevation, z = blend smoothness,
//          w = ground pattern / sky hue.
// iTime  : camera orbit angle.

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

struct Scene {
    vec3 c0, c1, c2;     // centres
    vec3 s;              // sizes
    vec3 kind;           // 0 sphere, 1 box, 2 torus (stored as floats)
    float k;             // smooth-min radius
};

float smin(float a, float b, float k) {
    float h = clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0);
    return mix(b, a, h) - k * h * (1.0 - h);
}

float prim(vec3 p, float kind, float s) {
    if (kind < 0.5) return length(p) - s;
    if (kind < 1.5) {
        vec3 q = abs(p) - vec3(s * 0.8);
        return length(max(q, 0.0)) + min(max(q.x, max(q.y, q.z)), 0.0) - 0.05;
    }
    vec2 q = vec2(length(p.xz) - s, p.y);
    return length(q) - s * 0.35;
}

float objects(vec3 p, Scene S) {
    float d = prim(p - S.c0, S.kind.x, S.s.x);
    d = smin(d, prim(p - S.c1, S.kind.y, S.s.y), S.k);
    d = smin(d, prim(p - S.c2, S.kind.z, S.s.z), S.k);
    return d;
}

float map(vec3 p, Scene S) { return min(objects(p, S), p.y); }

vec3 calcNormal(vec3 p, Scene S) {
    const vec2 e = vec2(1.0, -1.0) * 0.0015;
    vec3 n = e.xyy * map(p + e.xyy, S) + e.yyx * map(p + e.yyx, S) +
             e.yxy * map(p + e.yxy, S) + e.xxx * map(p + e.xxx, S);
    return n / max(length(n), 1e-6);
}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    uint seed = iSeed;
    vec4 P = iParams;
    vec2 uv = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;

    Scene S;
    S.c0 = vec3(rnd(seed + 1u) - 0.5, 0.5 + 0.4 * rnd(seed + 2u), rnd(seed + 3u) - 0.5) * vec3(1.6, 1.0, 1.6);
    S.c1 = vec3(rnd(seed + 4u) - 0.5, 0.4 + 0.5 * rnd(seed + 5u), rnd(seed + 6u) - 0.5) * vec3(1.8, 1.0, 1.8);
    S.c2 = vec3(rnd(seed + 7u) - 0.5, 0.3 + 0.6 * rnd(seed + 8u), rnd(seed + 9u) - 0.5) * vec3(1.8, 1.0, 1.8);
    S.s = vec3(0.25) + 0.3 * vec3(rnd(seed + 10u), rnd(seed + 11u), rnd(seed + 12u));
    S.kind = floor(3.0 * vec3(rnd(seed + 13u), rnd(seed + 14u), rnd(seed + 15u)));
    S.k = mix(0.05, 0.5, P.z);

    // camera
    float ang = 0.35 * iTime + 6.2831853 * rnd(seed + 16u);
    float dist = mix(2.6, 4.5, P.x);
    float elev = mix(0.25, 1.1, P.y);
    vec3 ro = vec3(dist * cos(ang) * cos(elev), 0.2 + dist * sin(elev), dist * sin(ang) * cos(elev));
    vec3 ta = vec3(0.0, 0.45, 0.0);
    vec3 fw = normalize(ta - ro);
    vec3 rt = normalize(cross(fw, vec3(0.0, 1.0, 0.0)));
    vec3 up = cross(rt, fw);
    vec3 rd = normalize(uv.x * rt + uv.y * up + 1.6 * fw);

    vec3 skyA = 0.5 + 0.45 * cos(6.2831853 * (P.w + vec3(0.55, 0.6, 0.7)));
    vec3 sky = mix(vec3(0.9, 0.85, 0.8), skyA, clamp(rd.y * 1.5 + 0.3, 0.0, 1.0));

    // ground plane analytically; march only the objects inside a bounding sphere
    float tPlane = rd.y < -1e-4 ? -ro.y / rd.y : 1e9;
    float bb = dot(ro, rd), cc = dot(ro, ro) - 2.6 * 2.6, disc = bb * bb - cc;
    float tEnd = min(tPlane, 20.0);
    float t = disc > 0.0 ? max(0.0, -bb - sqrt(disc)) : 1e9;
    bool hit = false;
    if (t < tEnd) {
        for (int i = 0; i < 64; i++) {
            float d = objects(ro + rd * t, S);
            if (d < 0.001 * t + 0.001) { hit = true; break; }
            t += d;
            if (t > tEnd) break;
        }
    }
    if (!hit && tPlane < 20.0) { t = tPlane; hit = true; }

    vec3 col = sky;
    if (hit) {
        vec3 p = ro + rd * t;
        vec3 n = calcNormal(p, S);
        float la = 6.2831853 * rnd(seed + 17u);
        vec3 L = normalize(vec3(cos(la), 1.2, sin(la)));
        bool ground = p.y < 0.003 && objects(p, S) > 0.003;
        vec3 alb;
        if (ground) {
            float chk = mod(floor(p.x * 2.0) + floor(p.z * 2.0), 2.0);
            alb = mix(vec3(0.55), mix(vec3(0.35, 0.3, 0.28), vec3(0.75, 0.72, 0.7), chk), P.w * exp(-0.25 * t));
        } else {
            float w0 = 1.0 / (0.05 + length(p - S.c0));
            float w1 = 1.0 / (0.05 + length(p - S.c1));
            float w2 = 1.0 / (0.05 + length(p - S.c2));
            vec3 a0 = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 20u) + vec3(0.0, 0.33, 0.67)));
            vec3 a1 = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 21u) + vec3(0.0, 0.33, 0.67)));
            vec3 a2 = 0.5 + 0.45 * cos(6.2831853 * (rnd(seed + 22u) + vec3(0.0, 0.33, 0.67)));
            alb = (a0 * w0 + a1 * w1 + a2 * w2) / (w0 + w1 + w2);
        }
        float dif = max(dot(n, L), 0.0);
        // cheap shadow / AO: sample the field along the light and the normal
        float sh = clamp(6.0 * map(p + L * 0.25, S) / 0.25, 0.0, 1.0);
        sh = min(sh, clamp(3.0 * map(p + L * 0.6, S) / 0.6, 0.0, 1.0));
        float ao = clamp(0.4 + 0.6 * map(p + n * 0.15, S) / 0.15, 0.0, 1.0);
        vec3 h = normalize(L - rd);
        float spec = pow(max(dot(n, h), 0.0), 32.0) * (ground ? 0.1 : 0.6);
        col = alb * (0.22 * ao * (0.6 + 0.4 * skyA) + 0.95 * dif * sh) + spec * sh;
        col = mix(col, sky, 1.0 - exp(-0.008 * t * t));
    }
    col = pow(clamp(col, 0.0, 1.0), vec3(0.8));
    fragColor = vec4(col, 1.0);
}
