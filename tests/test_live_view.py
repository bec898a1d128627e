"""synpat-view --live: the viewer's actions, no display, and a real window under Xvfb."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from synpat.gen.live_view import LiveView
from synpat.gen.renderer import Renderer


def view_cmd(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "synpat.gen.contact", "--live", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_actions_cycle_programs_reseed_pause_and_save(bundled_programs, tmp_path):
    programs = bundled_programs[:3]
    view = LiveView(Renderer(32, backend="compute", max_batch=1), programs, tmp_path)
    first = view.render(0.5).copy()
    assert first.shape == (32, 32, 3) and view.clock == 0.5
    view.key("previous")
    assert view.current == 2
    view.key("next"), view.key("next")
    assert view.current == 1
    view.key("previous")
    np.testing.assert_array_equal(view.render(0.0), first)  # same program, seed and time
    view.key("reseed")
    assert not np.array_equal(view.render(0.0), first)
    view.key("pause")
    view.render(3.0)
    assert view.clock == 0.5  # frozen while paused
    plain = view.frame.copy()
    view.key("overlay")
    shown = view.render(0.0)
    assert np.array_equal(view.frame, plain) and not np.array_equal(shown, plain)  # text on the shown copy only
    line = view.key("save")
    saved = list(tmp_path.glob("*.png"))
    assert len(saved) == 1 and line == f"saved {saved[0]}"
    np.testing.assert_array_equal(np.asarray(Image.open(saved[0])), plain)


def test_no_display_is_one_line_and_exit_2():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = view_cmd("--frames", 1, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "synpat-view: error: --live needs a display: none found (set DISPLAY, or run under xvfb-run -a)"
    ]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt-get install xvfb)")
def test_window_under_xvfb_saves_a_non_constant_screenshot(small_shaders, tmp_path):
    pytest.importorskip("glfw")
    shot = tmp_path / "shot.png"
    args = [
        "--shaders",
        small_shaders,
        "--size",
        64,
        "--frames",
        3,
        "--keys",
        "next,save",
        "--save-dir",
        tmp_path,
        "--screenshot",
        shot,
    ]
    proc = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-m", "synpat.gen.contact", "--live", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "showed 3 frames" in proc.stderr.splitlines()[-1]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (64, 64, 3) and pixels.std() > 5
    saved = [p for p in tmp_path.glob("*.png") if p != shot]
    assert [p.name.split("-")[0] for p in saved] == ["voronoi"]  # 'next' moved from fbm to voronoi
