"""synpat-view: a contact sheet PNG of shards, one row per program.

    synpat-view shards/ --out contact.png --per-program 8
    synpat-view --live --shaders shaders/      (a live window: synpat.gen.live_view)
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from synpat.core.errors import UserError
from synpat.core.settings import Parser, run_cli
from synpat.core.files import check_writable_folder, write_atomic
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


SHEET_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}   # --out suffix -> Pillow format


def image_format(path: Path) -> str:
    """The Pillow format the suffix of ``path`` names; UserError for another suffix."""
    fmt = SHEET_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"--out {path}: expected a .png, .jpg, .jpeg or .webp file name (the suffix names the format)")
    return fmt


def _main(argv: Sequence[str] | None) -> None:
    p = Parser(prog="synpat-view", description=__doc__.split("\n\n")[0])
    p.add_argument("shards", nargs="+", help="shard folders or .tar files")
    p.add_argument("--out", default="contact.png", help="image to write: .png, .jpg/.jpeg or .webp (the suffix names the format)")
    p.add_argument("--per-program", type=int, default=8, help="images per program row")
    p.add_argument("--tile", type=int, default=96, help="tile size in pixels")
    args = p.parse_args(argv)
    if args.per_program < 1 or args.tile < 8:
        raise UserError(f"--per-program and --tile: expected >= 1 and >= 8, got {args.per_program} and {args.tile}")
    fmt = image_format(Path(args.out))
    check_writable_folder(Path(args.out).parent, "--out")
    rows = collect(shard_paths(args.shards), args.per_program)
    if not rows:
        raise UserError(f"{' '.join(args.shards)}: no images found")
    buf = io.BytesIO()
    contact_sheet(rows, args.tile).save(buf, fmt)
    write_atomic(Path(args.out), buf.getvalue())
    print(f"synpat-view: {len(rows)} programs x {args.per_program} images -> {args.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--live" in argv:   # the live viewer (synpat.gen.live_view)
        from .live_view import main as live_main
        return live_main([a for a in argv if a != "--live"])
    return run_cli("synpat-view", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
