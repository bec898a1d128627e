"""The GPU statistics (gen/gl_stats) equal the numpy ones (gen/stats), on known and rendered images."""

import numpy as np
import pytest
from synpat.gen import stats
from synpat.gen.gl_stats import GLStats, render_measured
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

RNG = np.random.default_rng(1)


def known_images(h, w):
    const = np.full((h, w, 3), 90, np.uint8)
    step = np.zeros((h, w, 3), np.uint8)
    step[:, w // 2 :] = 255
    square = np.zeros((h, w, 3), np.uint8)
    square[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = (200, 30, 120)
    ramp = np.broadcast_to(np.linspace(0, 255, w).astype(np.uint8)[None, :, None], (h, w, 3)).copy()
    noise = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return np.stack([const, step, square, ramp, noise])


def assert_same(gl, ref):
    for k in ref:
        np.testing.assert_array_equal(gl[k], ref[k], err_msg=k)


@pytest.mark.parametrize(
    "w,h,band,shared_hist", [(32, 32, None, None), (33, 21, None, None), (33, 21, 4, True), (40, 37, 5, False)]
)
def test_known_images_match_numpy_exactly(w, h, band, shared_hist):
    """Every layout: one band or several (band rows an invocation), global or shared histograms."""
    renderer = Renderer(w, h, backend="compute", max_batch=8)
    images = known_images(h, w)
    rgba = np.concatenate([images, np.full(images.shape[:3] + (1,), 255, np.uint8)], axis=-1)
    renderer.output_buffer.write(rgba.tobytes())
    gl = GLStats(renderer, band=band, shared_hist=shared_hist).measure(len(images))
    ref = stats.image_stats(images)
    assert_same(gl, ref)
    assert gl["total_variation"][0] == 0 and gl["edge_density"][1] == pytest.approx(1 / w)


@pytest.mark.parametrize("band,shared_hist", [(None, None), (8, True)])
def test_rendered_batches_match_numpy_and_render_many(bundled_programs, band, shared_hist):
    programs = [p for p in bundled_programs if p.family in ("dead_leaves", "fractaldb", "visual_atom")][:6]
    renderer = Renderer(40, backend="compute", max_batch=5)  # several chunks, programs mixed
    samples = Sampler(len(programs), seed=4).range(0, 13)
    images, gl, _ = render_measured(renderer, GLStats(renderer, band=band, shared_hist=shared_hist), programs, samples)
    np.testing.assert_array_equal(images, renderer.render_many(programs, samples))
    assert_same(gl, stats.image_stats(images))
    assert gl["edge_density"].min() > 0 and len(set(gl["total_variation"].tolist())) == 13
