import numpy as np
from synpat.gen.sampler import TIME_RANGE, Sampler


def test_same_seed_same_samples_and_index_independence():
    a = Sampler(7, seed=3).range(0, 500)
    b = Sampler(7, seed=3)(np.array([499, 10, 0]))
    for field in ("program", "time", "seed", "params"):
        np.testing.assert_array_equal(getattr(a, field)[[499, 10, 0]], getattr(b, field))
    c = Sampler(7, seed=4).range(0, 500)
    assert (a.seed != c.seed).mean() > 0.99
    assert (a.program != c.program).mean() > 0.5


def test_programs_balanced_per_block():
    s = Sampler(13, seed=1).range(0, 13 * 20)
    for block in s.program.reshape(20, 13):
        assert sorted(block) == list(range(13))
    # shuffled: not the same order in every block
    assert len({tuple(b) for b in s.program.reshape(20, 13)}) > 10


def test_value_ranges_and_spread():
    s = Sampler(5, seed=0).range(0, 20000)
    lo, hi = TIME_RANGE
    assert s.time.dtype == np.float32 and s.time.min() >= lo and s.time.max() < hi
    assert abs(float(s.time.mean()) - (lo + hi) / 2) < 0.1
    assert s.params.shape == (20000, 4) and s.params.min() >= 0 and s.params.max() < 1
    assert np.abs(np.corrcoef(s.params.T) - np.eye(4)).max() < 0.05
    assert s.seed.dtype == np.uint32 and len(np.unique(s.seed)) > 19990
    assert s.seed.max() > 2**31
