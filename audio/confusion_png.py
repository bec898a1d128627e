"""Draw a labelled confusion matrix as a PNG with Pillow (no matplotlib)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from synpat.core.files import write_atomic

_BLUE = (31, 90, 170)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _label(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_confusion(matrix: torch.Tensor, classes: Sequence[str], title: str) -> Image.Image:
    """`matrix: (C, C)` counts (rows true, columns predicted) -> RGB image. Cells are shaded by the
    row-normalised rate and show the count; the diagonal is outlined."""
    n = len(classes)
    cell = max(18, min(56, 900 // n))
    cell_font, label_font, title_font = _font(max(8, cell * 2 // 5)), _font(max(10, min(16, cell * 3 // 5))), _font(18)
    names = [_label(c) for c in classes]
    label_w = int(max(label_font.getlength(s) for s in names)) + 12
    margin, title_h = 16, 34
    left, top = margin + 22 + label_w, margin + title_h + 22 + label_w
    width = max(left + n * cell, margin + int(title_font.getlength(title))) + margin
    height = top + n * cell + margin
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((margin, margin), title, fill="black", font=title_font)
    draw.text((left + n * cell // 2, margin + title_h), "predicted class", fill="black", font=label_font, anchor="mt")
    axis = Image.new("RGBA", (int(label_font.getlength("true class")) + 4, 20), (255, 255, 255, 0))
    ImageDraw.Draw(axis).text((2, 2), "true class", fill="black", font=label_font)
    axis = axis.rotate(90, expand=True)
    img.paste(axis, (margin, top + n * cell // 2 - axis.height // 2), axis)
    rates = matrix.float() / matrix.sum(dim=1, keepdim=True).clamp(min=1)
    for i, name in enumerate(names):
        y = top + i * cell
        draw.text((left - 6, y + cell // 2), name, fill="black", font=label_font, anchor="rm")
        column = Image.new("RGBA", (label_w, cell), (255, 255, 255, 0))
        ImageDraw.Draw(column).text((0, cell // 2), name, fill="black", font=label_font, anchor="lm")
        column = column.rotate(90, expand=True)
        img.paste(column, (left + i * cell, top - 6 - label_w), column)
        for j in range(n):
            x, rate = left + j * cell, float(rates[i, j])
            colour = tuple(int(255 - rate * (255 - c)) for c in _BLUE)
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=(210, 210, 210))
            if matrix[i, j]:
                draw.text(
                    (x + cell / 2, y + cell / 2),
                    str(int(matrix[i, j])),
                    font=cell_font,
                    anchor="mm",
                    fill="white" if rate > 0.5 else "black",
                )
        draw.rectangle([left + i * cell, y, left + i * cell + cell - 1, y + cell - 1], outline="black")
    return img


def write_confusion_png(path: str | Path, matrix: torch.Tensor, classes: Sequence[str], title: str) -> None:
    """Render and save atomically."""
    buf = io.BytesIO()
    render_confusion(matrix, classes, title).save(buf, format="PNG")
    write_atomic(Path(path), buf.getvalue())
