"""The bundled families: headers, counts, and the FractalDB-like category generator."""

from collections import Counter

import numpy as np
from synpat.gen import fractaldb
from synpat.gen.programs import UNKNOWN_FAMILY, Program, bundled_shaders_dir
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

PAPER_FAMILIES = {"dead_leaves", "statistical", "random_network", "fractaldb", "visual_atom"}


def test_every_bundled_program_names_its_family(bundled_programs):
    families = Counter(p.family for p in bundled_programs)
    assert UNKNOWN_FAMILY not in families
    assert len(bundled_programs) >= 48 and len(families) >= 12
    assert all(families[f] >= 6 for f in PAPER_FAMILIES), families
    assert (
        Program("x", "x.glsl", "// family: dead_leaves\nvoid mainImage(out vec4 c, in vec2 f) {}").family
        == "dead_leaves"
    )
    assert Program("x", "x.glsl", "// dead_leaves -- family: prose, not a header").family == UNKNOWN_FAMILY


def test_fractaldb_codes_contract_and_pass_the_filling_rate():
    codes = fractaldb.category_codes(3, seed=5)
    assert [c.shape[1] for c in codes] == [6, 6, 6] and all(2 <= len(c) <= fractaldb.MAX_MAPS for c in codes)
    for code in codes:
        a = code[:, :4].reshape(-1, 2, 2)
        assert np.linalg.svd(a, compute_uv=False)[:, 0].max() < fractaldb.MAX_CONTRACTION
        assert np.abs(np.linalg.det(a)).min() > fractaldb.MIN_DET
        assert fractaldb.filling_rate(code) >= fractaldb.MIN_FILL
    again = fractaldb.category_codes(3, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(codes, again))
    # a line segment's attractor fills little of its box: the filter's other side
    segment = np.array([[0.5, 0, 0, 0.5, 0, 0], [0.5, 0, 0, 0.5, 0.5, 0.5]])
    assert fractaldb.filling_rate(segment) < 0.05


def test_bundled_categories_are_what_the_generator_writes(tmp_path):
    paths = fractaldb.write_programs(tmp_path, 10, seed=0)
    bundled = bundled_shaders_dir() / "fractaldb"
    assert [p.name for p in paths] == sorted(p.name for p in bundled.glob("*.glsl"))
    for p in paths:
        assert p.read_text() == (bundled / p.name).read_text(), p.name
    program = Program("ifs", str(paths[0]), paths[0].read_text())
    images = Renderer(48, backend="compute", max_batch=4).render(program, Sampler(1, seed=2).range(0, 4))
    lit = (images.max(axis=3) > 0).reshape(4, -1).mean(axis=1)
    assert (lit > 0.01).all() and (lit < 0.9).all()  # a shape on black, not empty, not full
