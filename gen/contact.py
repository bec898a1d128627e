"""synpat-view: a contact sheet PNG of shards, one row per program.

    synpat-view shards/ --out contact.png --per-program 8
    synpat-view --live --shaders shaders/      (a live window: synpat.gen.live_view)
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from synpat.core.errors import UserError
from synpat.core.settings import option, parse_settings, run_cli, settings_parser
from synpat.core.files import write_atomic
from .shards import folder_shards, shard_samples

LABEL_WIDTH = 150


def shard_paths(sources: list[str]) -> list[Path]:
    paths: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            paths += folder_shards(src)
        elif src.is_file():
            paths.append(src)
        else:
            raise UserError(f"{src}: no such shard file or folder")
    return paths


def _class_count(paths: list[Path]) -> int | None:
    """Programs in the run, from the manifest beside the first shard (None when there is none)."""
    manifest = paths[0].parent / "manifest.json"
    try:
        return len(json.loads(manifest.read_text())["programs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def collect(paths: list[Path], per_program: int) -> dict[int, tuple[str, list[Image.Image]]]:
    """The first ``per_program`` images of each class: {cls: (program name, images)}. Reads the
    tars in order and stops once every class of the manifest has its row."""
    rows: dict[int, tuple[str, list[Image.Image]]] = {}
    classes = _class_count(paths)

    def full() -> bool:
        return classes is not None and len(rows) == classes and all(len(r) >= per_program for _, r in rows.values())

    for path in paths:
        for image, meta in shard_samples(path):
            row = rows.setdefault(int(meta["class"]), (meta["program"], []))[1]
            if len(row) < per_program:
                row.append(Image.open(io.BytesIO(image)).convert("RGB"))
            if full():
                return rows
    return rows


def contact_sheet(rows: dict[int, tuple[str, list[Image.Image]]], tile: int) -> Image.Image:
    cols = max(len(images) for _, images in rows.values())
    pad = 4
    sheet = Image.new("RGB", (LABEL_WIDTH + cols * (tile + pad) + pad, len(rows) * (tile + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, cls in enumerate(sorted(rows)):
        name, images = rows[cls]
        y = pad + r * (tile + pad)
        draw.text((pad, y + tile // 2 - 6), f"{cls}: {name}"[:24], fill=(230, 230, 230), font=font)
        for c, im in enumerate(images):
            sheet.paste(im.resize((tile, tile), Image.BILINEAR), (LABEL_WIDTH + pad + c * (tile + pad), y))
    return sheet


@dataclass
class ContactSettings:
    shards: tuple[str, ...] = option((), "shard folders or .tar files", positional=True)
    out: str = option("contact.png", "PNG to write")
    per_program: int = option(8, "images per program row")
    tile: int = option(96, "tile size in pixels")


def validate(cfg: ContactSettings) -> ContactSettings:
    if not cfg.shards:
        raise UserError("no shards: give shard folders or .tar files")
    if cfg.per_program < 1 or cfg.tile < 8:
        raise UserError(f"--per-program and --tile: expected >= 1 and >= 8, got {cfg.per_program} and {cfg.tile}")
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    cfg = validate(parse_settings(ContactSettings, argv, settings_parser(
        ContactSettings, "synpat-view", __doc__.split("\n\n")[0])))
    rows = collect(shard_paths(cfg.shards), cfg.per_program)
    if not rows:
        raise UserError(f"{' '.join(cfg.shards)}: no images found")
    buf = io.BytesIO()
    contact_sheet(rows, cfg.tile).save(buf, "PNG")
    write_atomic(Path(cfg.out), buf.getvalue())
    print(f"synpat-view: {len(rows)} programs x {cfg.per_program} images -> {cfg.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--live" in argv:   # the live viewer (synpat.gen.live_view)
        from .live_view import main as live_main
        return live_main([a for a in argv if a != "--live"])
    return run_cli("synpat-view", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
