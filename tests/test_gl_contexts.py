"""Renderers on different GL contexts in one process (the interop check and a stream beside a
generator): each renderer makes its own context current before its GL calls, and EGL's default
device and index 0 are one context. Real EGL contexts (Mesa llvmpipe here, one per renderer)."""

import moderngl
import numpy as np
import pytest
from synpat.core.devices import DEVICE_ENV
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer, gl_context
from synpat.gen.sampler import Sampler


def standalone_context() -> moderngl.Context:
    """A second context of this process (glcontext makes a new context current)."""
    return moderngl.create_standalone_context(backend="egl", require=430)


@pytest.fixture
def programs():
    found = {p.name: p for p in find_programs([bundled_shaders_dir()])}
    return [found["waves"], found["voronoi"], found["fbm"]]


@pytest.mark.parametrize("backend", ["compute", "fragment"])
def test_two_renderers_on_two_contexts_rendering_in_turn_each_give_their_own_images(programs, backend):
    # The interop check's shape: one renderer per context, sizes and programs differing, batches
    # in turn; a renderer whose GL calls went to the newest context would read the other's buffers.
    samples = [Sampler(3, seed=s).range(0, 6) for s in (1, 2, 3)]
    sizes = (32, 24)
    reference = []
    with Renderer(sizes[0], backend=backend, max_batch=4) as alone:  # the process's one context
        reference.append([alone.render_many(programs, s) for s in samples])
    with Renderer(sizes[1], backend=backend, max_batch=4) as alone:
        reference.append([alone.render_many(programs[::-1], s) for s in samples])

    contexts, renderers = [], []
    try:
        for which, size in enumerate(sizes):  # made while its context is the newest (current); renders
            contexts.append(standalone_context())
            renderers.append(Renderer(size, backend=backend, max_batch=4, ctx=contexts[-1]))
            got = renderers[which].render_many(programs if which == 0 else programs[::-1], samples[0])
            np.testing.assert_array_equal(got, reference[which][0], err_msg=f"renderer {which}, turn 0")
        for turn in (1, 2):  # then in turn: a, b, then b, a
            for which in (turn % 2, 1 - turn % 2)[::-1]:
                got = renderers[which].render_many(programs if which == 0 else programs[::-1], samples[turn])
                np.testing.assert_array_equal(got, reference[which][turn], err_msg=f"renderer {which}, turn {turn}")
        for r in renderers:
            r.release()
    finally:
        for ctx in contexts:
            ctx.release()
    # renderers on the process's context still render after the others' contexts are gone
    with Renderer(sizes[0], backend=backend, max_batch=4) as again:
        np.testing.assert_array_equal(again.render_many(programs, samples[0]), reference[0][0])


def test_a_renderer_made_while_another_context_is_current_checks_and_compiles_on_its_own(programs):
    first = Renderer(16, backend="compute", max_batch=2)
    other = standalone_context()
    try:
        assert first.check(programs[0]) is None  # compile + probes on first's context
        samples = Sampler(1, seed=4).range(0, 2)
        a = first.render(programs[0], samples)
        with Renderer(16, backend="compute", max_batch=2, ctx=other) as second:
            b = second.render(programs[0], samples)
            np.testing.assert_array_equal(first.render(programs[0], samples), a)
        np.testing.assert_array_equal(a, b)
    finally:
        first.release()
        other.release()


def test_the_default_egl_device_and_its_index_are_one_context(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert gl_context(None) is gl_context(0)
    assert Renderer(8, device=None).ctx is Renderer(8, device=0).ctx
