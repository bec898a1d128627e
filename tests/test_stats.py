"""Image statistics on images whose values are known."""

import numpy as np
import pytest
from synpat.gen import stats

RNG = np.random.default_rng(0)


def constant(n=2, size=32, value=128):
    return np.full((n, size, size, 3), value, np.uint8)


def gradient(size=32):
    row = np.linspace(0, 255, size).astype(np.uint8)
    return np.broadcast_to(row[None, None, :, None], (1, size, size, 3)).copy()


def step(size=32):
    img = np.zeros((1, size, size, 3), np.uint8)
    img[:, :, size // 2 :] = 255
    return img


def test_constant_image_has_zero_tv_entropies_and_edges():
    s = stats.image_stats(constant())
    for name in stats.STAT_NAMES:
        np.testing.assert_array_equal(s[name], [0.0, 0.0])
    np.testing.assert_allclose(s["mean"], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(s["std"], 0.0, atol=1e-5)


def test_white_noise_tv_above_gradient_and_entropy_bounds():
    noise = RNG.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    tv = stats.total_variation(noise)
    assert tv.shape == (4,) and tv.min() > 0.3  # E|U1 - U2| = 1/3 for uniform values
    assert stats.total_variation(gradient()).max() < 0.02
    ce, be = stats.colour_entropy(noise), stats.brightness_entropy(noise)
    assert 8.4 < ce.min() and ce.max() <= 9.0  # 512 colours, 4096 pixels each
    assert 6.5 < be.min() and be.max() <= 8.0
    # two colours in equal parts: exactly one bit of each
    s = stats.image_stats(step())
    assert s["colour_entropy"][0] == pytest.approx(1.0) and s["brightness_entropy"][0] == pytest.approx(1.0)
    # 32 grey levels, one per column: 5 bits of brightness, 3 of colour (8 levels a channel)
    g = stats.image_stats(gradient())
    assert g["brightness_entropy"][0] == pytest.approx(5.0) and g["colour_entropy"][0] == pytest.approx(3.0)


def test_tv_of_a_step_counts_one_jump_per_row():
    # 32 rows x 1 jump of 1.0 in each channel, over 31*32 horizontal + 31*32 vertical pairs
    assert stats.total_variation(step())[0] == pytest.approx(32 / (2 * 31 * 32))


def test_canny_finds_a_step_edge_as_one_line():
    edges = stats.canny(step())[0]
    assert edges.sum(axis=0).tolist() == [0] * 16 + [32] + [0] * 15  # one full column at the step
    assert stats.edge_density(step())[0] == pytest.approx(1 / 32)
    assert not stats.canny(gradient()).any()  # a gentle ramp is no edge
    square = np.zeros((1, 40, 40, 3), np.uint8)
    square[:, 10:30, 10:30] = 200
    ring = stats.canny(square)[0]
    assert ring.sum() > 70 and ring[9:31, 9:31].sum() == ring.sum()  # a closed outline at the square's border
    assert ring[9:31, 9:31].any(axis=0)[[0, -1]].any() and not ring[12:28, 12:28].any()


def test_batch_equals_one_by_one_and_rejects_bad_input():
    batch = np.concatenate([constant(1), step(), RNG.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)])
    together = stats.image_stats(batch)
    for i in range(3):
        alone = stats.image_stats(batch[i : i + 1])
        for k in together:
            np.testing.assert_allclose(together[k][i], alone[k][0], rtol=1e-6)
    row = stats.stats_row(together, 1)
    assert row["edge_density"] == pytest.approx(1 / 32, abs=1e-5) and len(row["mean"]) == 3
    with pytest.raises(ValueError, match="uint8"):
        stats.image_stats(batch.astype(np.float32))
