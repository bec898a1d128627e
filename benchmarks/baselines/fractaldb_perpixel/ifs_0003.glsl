// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: fractaldb
//
// ifs_0003 -- FractalDB-like category 3: the attractor of one fixed IFS code (7 affine
// maps, made by synpat.gen.fractaldb with filling rate 0.23), rendered per pixel by a
// depth-first search over the inverse maps pruned by a bounding disc (not point splatting).
// iSeed  : the instance: which of the 42 parameters is weighted (0.8 .. 1.2), a flip,
//          the colours.
// iParams: x = zoom margin, y = colour mix (one colour .. one per first map).

const int N = 7;
const float CODE[42] = float[](
    0.001876, -0.633288, -0.408146, 0.148822, -0.713996, -0.972524,
    -0.132218, 0.524394, 0.228315, -0.351707, 0.434482, -0.030971,
    -0.135470, 0.024298, -0.610781, 0.559890, 0.736862, -0.367990,
    0.016128, 0.188749, 0.444756, -0.705055, -0.438258, 0.461412,
    0.136385, 0.799892, -0.104283, -0.186774, -0.386986, -0.537255,
    -0.228270, 0.222349, 0.328284, 0.320553, -0.830482, 0.163805,
    0.353209, 0.313803, 0.374830, 0.172528, -0.769442, 0.338407);
const vec4 BOX = vec4(-1.830943, -1.635254, 1.386340, 1.830823);   // the attractor's bounding box: x0, y0, x1, y1
const vec3 DISC = vec3(-0.222302, 0.097784, 2.129676);  // a disc holding it: centre, radius

uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    // a disc holding the attractor (from the code's chaos-game points, 15% margin for the weighting)
    vec2 c = DISC.xy;
    float R = DISC.z;

    // the pixel in attractor coordinates: the bounding box fits the image, with a margin
    vec2 uv = fragCoord / iResolution.xy;
    if ((pcg(iSeed + 2u) & 1u) != 0u) uv.x = 1.0 - uv.x;
    vec2 mid = 0.5 * (BOX.xy + BOX.zw), half_ = 0.5 * (BOX.zw - BOX.xy);
    float span = max(half_.x, half_.y) * mix(1.05, 1.3, iParams.x);
    vec2 x = mid + (2.0 * uv - 1.0) * span;
    float px = 2.0 * span / iResolution.y;

    if (length(x - c) - R > px) { fragColor = vec4(0.0, 0.0, 0.0, 1.0); return; }

    // the instance's code: one parameter weighted by 0.8, 0.9, 1.0, 1.1 or 1.2
    int pick = int(pcg(iSeed) % uint(6 * N));
    float weight = 0.8 + 0.1 * float(pcg(iSeed + 1u) % 5u);
    mat2 A[N], inv[N];
    vec2 B[N];
    float shrink[N];
    for (int i = 0; i < N; i++) {
        float m[6];
        for (int k = 0; k < 6; k++) m[k] = CODE[6 * i + k] * (6 * i + k == pick ? weight : 1.0);
        A[i] = mat2(m[0], m[2], m[1], m[3]);          // columns: x' = m0 x + m1 y + m4
        B[i] = vec2(m[4], m[5]);
        float p = m[0] * m[0] + m[1] * m[1] + m[2] * m[2] + m[3] * m[3];
        float det = determinant(A[i]);
        float q = sqrt(max(p * p - 4.0 * det * det, 0.0));
        shrink[i] = min(sqrt(0.5 * (p + q)), 0.97);  // largest singular value
        inv[i] = inverse(A[i]);
    }
    // depth-first search: at each depth try the maps whose image of the disc is near the point
    const int DEPTH = 8;
    vec2 xs[DEPTH];
    int branch[DEPTH];
    float scale[DEPTH];
    int d = 0;
    xs[0] = x; branch[0] = 0; scale[0] = 1.0;
    bool hit = false;
    int first = 0, second = 0;
    for (int step = 0; step < 40; step++) {
        if (scale[d] * R < px || d == DEPTH - 1) { hit = true; break; }
        int i = branch[d];
        if (i >= N) {
            if (d == 0) break;
            d--; branch[d]++; continue;
        }
        vec2 y = inv[i] * (xs[d] - B[i]);
        float s = scale[d] * shrink[i];
        if ((length(y - c) - R) * s <= px) {
            d++; xs[d] = y; branch[d] = 0; scale[d] = s;
        } else {
            branch[d]++;
        }
    }
    first = branch[0]; second = d > 1 ? branch[1] : 0;
    float h0 = rnd(iSeed + 3u);
    float hue = h0 + iParams.y * (0.13 * float(first) + 0.05 * float(second));
    vec3 col = 0.55 + 0.45 * cos(6.2831853 * (hue + vec3(0.0, 0.33, 0.67)));
    fragColor = vec4(hit ? col : vec3(0.0), 1.0);
}
