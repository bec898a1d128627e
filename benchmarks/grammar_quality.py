"""Measured quality of a procedural set: compile/render rate, distinctness, smoothness, contact sheet.

    python benchmarks/grammar_quality.py [--n 1000] [--seed 0] [--size 64] [--sheet docs/grammar_contact.png]

Compile rate: Renderer.check (compile, 8 probe images, NaN and constant tests) on every program.
Distinctness: each program gets a feature vector, the mean over its images of colour mean and
spread, an 8-bin luminance histogram, total variation and the luminance power in 6 radial
frequency bands; features are z-scored over the set and a program's distance to its nearest
other program is compared with the distance between two halves of its *own* images, scaled by
1/sqrt(2) to the distance expected between two independent 8-image draws of one program. A
program whose nearest neighbour is closer than the median of that same-program distance is
"near-identical" to another: the two are as alike as re-sampling one program. Smoothness: total variation, the mean
absolute difference of neighbouring pixels' luminance (0..1 per pixel step), against the
bundled programs'.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import emit
from PIL import Image
from synpat.core.files import write_atomic
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler, Samples

IMAGES = 8


def features(images: np.ndarray) -> np.ndarray:
    """images (K, S, S, 3) uint8 -> (K, 22) float64 per-image features."""
    x = images.astype(np.float64) / 255.0
    lum = x @ np.array([0.299, 0.587, 0.114])
    hist = np.stack([np.histogram(l, bins=8, range=(0, 1))[0] for l in lum]) / lum[0].size
    spectrum = np.abs(np.fft.fft2(lum - lum.mean(axis=(1, 2), keepdims=True))) ** 2
    s = lum.shape[1]
    f = np.fft.fftfreq(s)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    edges = np.geomspace(1.0 / s, 0.5 * np.sqrt(2) + 1e-9, 7)
    bands = np.stack([spectrum[:, (radius >= a) & (radius < b)].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], 1)
    bands = bands / np.maximum(bands.sum(axis=1, keepdims=True), 1e-12)
    return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2)), hist, total_variation(images)[:, None], bands], 1)


def total_variation(images: np.ndarray) -> np.ndarray:
    """images (K, S, S, 3) uint8 -> (K,) mean |luminance step| between neighbouring pixels, 0..1."""
    lum = images.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    return 0.5 * (np.abs(np.diff(lum, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(lum, axis=2)).mean(axis=(1, 2)))


def render_set(renderer: Renderer, programs: list) -> np.ndarray:
    """-> (P, IMAGES, S, S, 3) uint8: IMAGES samples of each program (the same inputs for all)."""
    base = Sampler(1, seed=17).range(0, IMAGES)
    n = len(programs) * IMAGES
    samples = Samples(
        np.arange(n),
        np.repeat(np.arange(len(programs)), IMAGES),
        np.tile(base.time, len(programs)),
        np.tile(base.seed, len(programs)),
        np.tile(base.params, (len(programs), 1)),
    )
    out = []
    for first in range(0, n, 256):
        out.append(renderer.render_many(programs, samples.take(np.arange(first, min(n, first + 256)))))
    return np.concatenate(out).reshape(len(programs), IMAGES, renderer.height, renderer.width, 3)


def contact_sheet(renderer: Renderer, programs: list, path: Path) -> None:
    """One image of each of the first 64 programs, 8 x 8."""
    chosen = programs[:64]
    base = Sampler(1, seed=3).range(0, len(chosen))
    images = renderer.render_many(
        chosen, Samples(base.index, np.arange(len(chosen)), base.time, base.seed, base.params)
    )
    s = renderer.width
    sheet = np.zeros((8 * s, 8 * s, 3), np.uint8)
    for i, image in enumerate(images):
        sheet[(i // 8) * s : (i // 8 + 1) * s, (i % 8) * s : (i % 8 + 1) * s] = image
    import io

    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="PNG", optimize=True)
    write_atomic(path, buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=64, help="image size for checks and features")
    ap.add_argument("--sheet", default=None, help="write a contact sheet of 64 programs (96 px tiles) here")
    args = ap.parse_args()
    programs = find_programs([f"procedural:{args.n}@{args.seed}"])
    renderer = Renderer(args.size, backend="compute")
    device = renderer.device_name
    start = time.perf_counter()
    reasons = [renderer.check(p) for p in programs]
    bad = [r for r in reasons if r]
    emit(
        "grammar",
        "render_rate",
        100.0 * (len(programs) - len(bad)) / len(programs),
        "%",
        device,
        n=args.n,
        seed=args.seed,
        size=args.size,
        rejected=bad[:5],
        check_seconds=round(time.perf_counter() - start, 1),
    )
    emit("grammar", "glsl_lines", float(np.mean([p.source.count("\n") for p in programs])), "lines", device)

    images = render_set(renderer, programs)
    feats = np.stack([features(imgs) for imgs in images])  # (P, IMAGES, F)
    whole = feats.mean(axis=1)
    mu, sd = whole.mean(axis=0), whole.std(axis=0) + 1e-9
    z = (whole - mu) / sd
    halves = np.linalg.norm((feats[:, : IMAGES // 2].mean(1) - feats[:, IMAGES // 2 :].mean(1)) / sd, axis=1)
    same = np.median(halves) / np.sqrt(2)  # two independent 8-image means of one program
    d = np.linalg.norm(z[:, None] - z[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    q = np.percentile(nn, [0, 1, 5, 25, 50, 75, 100])
    emit(
        "grammar",
        "nn_distance",
        float(np.median(nn)),
        "z",
        device,
        percentiles={k: round(float(v), 3) for k, v in zip(("min", "p1", "p5", "p25", "p50", "p75", "max"), q)},
        same_program_median=round(float(same), 3),
        near_identical=int((nn < same).sum()),
        closest_pair=[programs[i].name for i in np.unravel_index(np.argmin(d), d.shape)],
    )
    tv = total_variation(images.reshape(-1, args.size, args.size, 3)).reshape(len(programs), -1).mean(axis=1)
    bundled = find_programs([bundled_shaders_dir()])
    tv_bundled = total_variation(render_set(renderer, bundled).reshape(-1, args.size, args.size, 3))
    emit(
        "grammar",
        "total_variation",
        float(np.median(tv)),
        "per px",
        device,
        p90=round(float(np.percentile(tv, 90)), 4),
        bundled_median=round(float(np.median(tv_bundled)), 4),
        share_above_bundled_p90=round(float((tv > np.percentile(tv_bundled, 90)).mean()), 3),
    )
    if args.sheet:
        contact_sheet(Renderer(96, backend="compute"), programs, Path(args.sheet))


if __name__ == "__main__":
    main()
