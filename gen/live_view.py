"""synpat-view --live: render programs live in a window (glfw, the ``view`` extra).

    synpat-view --live --shaders shaders/ --size 512
    xvfb-run -a synpat-view --live --shaders shaders/ --frames 10 --screenshot shot.png

Keys: right / n next program, left / p previous, r reseed, space pause, s save the frame as a
PNG (in --save-dir), o toggle the overlay (name, family, statistics), q / escape quit.
iTime runs with the wall clock (paused: frozen); iSeed and iParams come from the sampler at the
reseed count. The programs render in the window's own OpenGL 4.3 context.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from synpat.core.errors import UserError
from synpat.core.files import write_atomic
from synpat.core.settings import option, parse_settings, run_cli, settings_parser

from .programs import bundled_shaders_dir, find_programs
from .sampler import Sampler, Samples
from .stats import image_stats

KEYS = {
    "right": "next",
    "n": "next",
    "left": "previous",
    "p": "previous",
    "r": "reseed",
    "space": "pause",
    "s": "save",
    "o": "overlay",
    "q": "quit",
    "escape": "quit",
}

_VERTEX = """#version 330
out vec2 uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    uv = vec2(p.x, 1.0 - p.y);   // the image's top row first
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""
_FRAGMENT = """#version 330
uniform sampler2D image;
in vec2 uv;
out vec4 colour;
void main() { colour = vec4(texture(image, uv).rgb, 1.0); }
"""


def overlay(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """image (H, W, 3) uint8 -> a copy with ``lines`` of text on a dark band at the top left."""
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im, "RGBA")
    font = ImageFont.load_default()
    width = max(draw.textlength(line, font=font) for line in lines)
    draw.rectangle((0, 0, width + 12, 14 * len(lines) + 8), fill=(0, 0, 0, 170))
    for i, line in enumerate(lines):
        draw.text((6, 4 + 14 * i), line, fill=(240, 240, 240), font=font)
    return np.asarray(im)


class LiveView:
    """The viewer's state and actions, apart from the window: which program, seed, time, overlay."""

    def __init__(self, renderer, programs, save_dir: Path, seed: int = 0):
        self.renderer, self.programs, self.save_dir = renderer, programs, save_dir
        self.sampler = Sampler(1, seed=seed)
        self.current = self.reseeds = 0
        self.paused = self.show_overlay = False
        self.clock = 0.0
        self.frame: np.ndarray | None = None  # the last rendered image, (H, W, 3), without overlay

    def key(self, action: str) -> str | None:
        """Apply one action (KEYS' values); -> a line to print, if any."""
        if action == "next":
            self.current = (self.current + 1) % len(self.programs)
        elif action == "previous":
            self.current = (self.current - 1) % len(self.programs)
        elif action == "reseed":
            self.reseeds += 1
        elif action == "pause":
            self.paused = not self.paused
        elif action == "overlay":
            self.show_overlay = not self.show_overlay
        elif action == "save" and self.frame is not None:
            program = self.programs[self.current]
            path = self.save_dir / f"{program.name.replace('/', '_')}-{self.reseeds}-{self.clock:.2f}.png"
            buf = io.BytesIO()
            Image.fromarray(self.frame).save(buf, "PNG")
            write_atomic(path, buf.getvalue())
            return f"saved {path}"
        return None

    def render(self, dt: float) -> np.ndarray:
        """Advance the clock by dt (unless paused) and render -> the image to show (H, W, 3)."""
        if not self.paused:
            self.clock += dt
        s = self.sampler(np.array([self.reseeds]))
        sample = Samples(s.index, s.program, np.array([self.clock], dtype=np.float32), s.seed, s.params)
        program = self.programs[self.current]
        self.frame = self.renderer.render(program, sample)[0]
        if not self.show_overlay:
            return self.frame
        st = image_stats(self.frame[None])
        lines = [
            f"{self.current + 1}/{len(self.programs)} {program.name}",
            f"family: {program.family}",
            f"seed {int(s.seed[0])}  t {self.clock:.2f}" + ("  paused" if self.paused else ""),
            f"TV {st['total_variation'][0]:.3f}  edges {st['edge_density'][0]:.3f}",
            f"entropy: colour {st['colour_entropy'][0]:.2f}  brightness {st['brightness_entropy'][0]:.2f}",
        ]
        return overlay(self.frame, lines)


def _open_window(size: int):
    """-> (glfw module, window); UserError when there is no display or no glfw."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("--live needs a display: none found (set DISPLAY, or run under xvfb-run -a)")
    try:
        import glfw
    except ImportError:
        raise UserError("--live needs glfw: pip install 'synpat[view]'") from None
    glfw.ERROR_REPORTING = "ignore"
    if not glfw.init():
        raise UserError(f"--live: cannot open the display {os.environ.get('DISPLAY', '')} (glfw init failed)")
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 4)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    glfw.window_hint(glfw.RESIZABLE, False)
    window = glfw.create_window(size, size, "synpat live", None, None)
    if not window:
        glfw.terminate()
        raise UserError("--live: cannot open an OpenGL 4.3 window on this display")
    glfw.make_context_current(window)
    return glfw, window


def run(
    shaders: list[str],
    size: int,
    seed: int,
    save_dir: Path,
    frames: int | None,
    keys: list[str],
    screenshot: Path | None,
) -> int:
    """The window loop -> frames shown. ``keys``: actions applied one per frame first (scripts, tests)."""
    import moderngl

    from .renderer import Renderer

    programs = find_programs(shaders)
    glfw, window = _open_window(size)
    try:
        ctx = moderngl.create_context(require=430)
        view = LiveView(Renderer(size, backend="auto", max_batch=1, ctx=ctx), programs, save_dir, seed)
        texture = ctx.texture((size, size), 3)
        quad = ctx.vertex_array(ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT), [])
        names = {getattr(glfw, f"KEY_{k.upper()}"): a for k, a in KEYS.items()}

        def on_key(_win, key, _scancode, action, _mods):
            if action == glfw.PRESS and key in names:
                if names[key] == "quit":
                    glfw.set_window_should_close(window, True)
                elif line := view.key(names[key]):
                    print(f"synpat-view: {line}", file=sys.stderr)

        glfw.set_key_callback(window, on_key)
        shown, last = 0, time.perf_counter()
        while not glfw.window_should_close(window) and (frames is None or shown < frames):
            if shown < len(keys):
                line = view.key(keys[shown])
                if line:
                    print(f"synpat-view: {line}", file=sys.stderr)
            now = time.perf_counter()
            image = view.render(now - last)
            last = now
            texture.write(np.ascontiguousarray(image).tobytes())
            ctx.screen.use()
            ctx.viewport = (0, 0, *glfw.get_framebuffer_size(window))
            texture.use(0)
            quad.render(moderngl.TRIANGLES, vertices=3)
            if screenshot is not None and frames is not None and shown == frames - 1:
                w, h = glfw.get_framebuffer_size(window)
                pixels = np.frombuffer(ctx.screen.read(viewport=(0, 0, w, h), components=3), np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels.reshape(h, w, 3)[::-1]).save(buf, "PNG")
                write_atomic(screenshot, buf.getvalue())
            glfw.swap_buffers(window)
            glfw.poll_events()
            shown += 1
        return shown
    finally:
        glfw.terminate()


@dataclass
class LiveSettings:
    shaders: tuple[str, ...] = option((), "program folders or files (default: the bundled programs)")
    size: int = option(512, "window and render size in pixels")
    seed: int = option(0, "sampler seed of iSeed and iParams")
    save_dir: str = option(".", "folder for the PNGs the s key saves")
    frames: int = option(0, "quit after this many frames (0 = when the window closes)")
    keys: str = option(
        "", f"comma-separated actions applied one per frame first ({', '.join(sorted(set(KEYS.values()) - {'quit'}))})"
    )
    screenshot: str = option("", "with --frames: save the last frame's window as this PNG")


def validate(cfg: LiveSettings) -> LiveSettings:
    keys = [k for k in cfg.keys.split(",") if k]
    bad = [k for k in keys if k not in set(KEYS.values()) - {"quit"}]
    if bad or not 16 <= cfg.size <= 4096 or cfg.frames < 0:
        raise UserError(
            f"--keys, --size, --frames: expected known actions, 16..4096, >= 1; "
            f"got {bad or cfg.keys!r}, {cfg.size}, {cfg.frames}"
        )
    if cfg.screenshot and not cfg.frames:
        raise UserError("--screenshot: give --frames too (the screenshot is of the last frame)")
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    parser = settings_parser(LiveSettings, "synpat-view --live", __doc__.split("\n\n")[0])
    cfg = validate(parse_settings(LiveSettings, argv, parser))
    shaders = list(cfg.shaders) or [str(bundled_shaders_dir())]
    shown = run(
        shaders,
        cfg.size,
        cfg.seed,
        Path(cfg.save_dir),
        cfg.frames or None,
        [k for k in cfg.keys.split(",") if k],
        Path(cfg.screenshot) if cfg.screenshot else None,
    )
    print(
        f"synpat-view: showed {shown} frames" + (f", screenshot {cfg.screenshot}" if cfg.screenshot else ""),
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    return run_cli("synpat-view", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
