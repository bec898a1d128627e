"""synpat-view: a contact sheet PNG of shards, one row per program (sound shards: log-mel spectrograms).

synpat-view shards/ --out contact.png --per-program 8
synpat-view --live --shaders shaders/      (a live window: synpat.gen.live_view)
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from synpat.core.errors import UserError
from synpat.core.files import check_writable_folder, write_atomic
from synpat.core.settings import option, parse_settings, run_cli, settings_parser

from .shards import folder_shards, naming_sample, shard_samples

FLAC_MAGIC = b"fLaC"
SOUND_TILE_ASPECT = 3  # a spectrogram tile is this many times wider than high

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


def is_sound_shards(sources: list[str]) -> bool:
    """Whether the manifest beside the first shard says ``"kind": "sound"``; without a readable one
    (a shard copied on its own), whether the first shard's first sample is a FLAC clip."""
    paths = shard_paths(sources)
    if not paths:
        return False
    try:
        return json.loads((paths[0].parent / "manifest.json").read_text()).get("kind") == "sound"
    except (OSError, ValueError, AttributeError):
        first = next(shard_samples(paths[0]), None)
        return first is not None and first[0][:4] == FLAC_MAGIC


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
        for key, data, meta in shard_samples(path, keys=True):
            row = rows.setdefault(int(meta["class"]), (meta["program"], []))[1]
            if len(row) < per_program:
                with naming_sample(path, key):
                    row.append(picture(data))
            if full():
                return rows
    return rows


def picture(data: bytes) -> Image.Image:
    """A sample's file as a picture: an image as it is, a FLAC clip as its log-mel spectrogram
    (synpat.gen.sound_stats: 128 mel bands, low frequencies at the bottom); ValueError saying why
    for a file that cannot be read."""
    if data[:4] == FLAC_MAGIC:
        from .flac import decode_flac
        from .sound_stats import log_mel, spectrogram_image

        wave, rate = decode_flac(data)
        return Image.fromarray(spectrogram_image(log_mel(wave[None], rate)[0]))
    try:
        return Image.open(io.BytesIO(data)).convert("RGB")
    except UnidentifiedImageError:
        raise ValueError("not a readable image or FLAC clip (format not recognised)") from None
    except (OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a readable image ({e})") from None


def contact_sheet(rows: dict[int, tuple[str, list[Image.Image]]], tile: int, width: int | None = None) -> Image.Image:
    """One row per program of tiles ``width`` (default ``tile``) x ``tile`` pixels, labelled."""
    cols = max(len(images) for _, images in rows.values())
    pad = 4
    width = width or tile
    sheet = Image.new("RGB", (LABEL_WIDTH + cols * (width + pad) + pad, len(rows) * (tile + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, cls in enumerate(sorted(rows)):
        name, images = rows[cls]
        y = pad + r * (tile + pad)
        draw.text((pad, y + tile // 2 - 6), f"{cls}: {name}"[:24], fill=(230, 230, 230), font=font)
        for c, im in enumerate(images):
            sheet.paste(im.resize((width, tile), Image.BILINEAR), (LABEL_WIDTH + pad + c * (width + pad), y))
    return sheet


SHEET_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}  # --out suffix -> Pillow format


def image_format(path: Path) -> str:
    """The Pillow format the suffix of ``path`` names; UserError for another suffix."""
    fmt = SHEET_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"--out {path}: expected a .png, .jpg, .jpeg or .webp file name (the suffix names the format)")
    return fmt


@dataclass
class ContactSettings:
    shards: tuple[str, ...] = option((), "shard folders or .tar files", positional=True)
    out: str = option("contact.png", "image to write: .png, .jpg/.jpeg or .webp (the suffix names the format)")
    per_program: int = option(8, "images per program row")
    tile: int = option(96, "tile size in pixels")


def validate(cfg: ContactSettings) -> ContactSettings:
    if not cfg.shards:
        raise UserError("no shards: give shard folders or .tar files")
    if cfg.per_program < 1 or cfg.tile < 8:
        raise UserError(f"--per-program and --tile: expected >= 1 and >= 8, got {cfg.per_program} and {cfg.tile}")
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    cfg = validate(
        parse_settings(ContactSettings, argv, settings_parser(ContactSettings, "synpat-view", __doc__.split("\n\n")[0]))
    )
    fmt = image_format(Path(cfg.out))
    check_writable_folder(Path(cfg.out).parent, "--out")
    rows = collect(shard_paths(cfg.shards), cfg.per_program)
    if not rows:
        raise UserError(f"{' '.join(cfg.shards)}: no images found")
    sound = is_sound_shards(cfg.shards)
    sheet = contact_sheet(rows, cfg.tile, cfg.tile * SOUND_TILE_ASPECT if sound else None)
    if sound:  # spectrograms are drawn from one colour ramp: 256 palette colours keep them, at a third of the bytes
        sheet = sheet.quantize(256)
    buf = io.BytesIO()
    sheet.save(buf, fmt)
    write_atomic(Path(cfg.out), buf.getvalue())
    cols = max(len(images) for _, images in rows.values())  # fewer than --per-program when the shards hold fewer
    print(f"synpat-view: {len(rows)} programs x {cols} {'clips' if sound else 'images'} -> {cfg.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--live" in argv:  # the live viewer (synpat.gen.live_view)
        from .live_view import main as live_main

        return live_main([a for a in argv if a != "--live"])
    return run_cli("synpat-view", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
