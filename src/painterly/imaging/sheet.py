"""Labelled contact sheets: many pictures as thumbnails on one image, to compare styles at a glance."""

from __future__ import annotations

from typing import Sequence, Tuple

from PIL import Image, ImageDraw, ImageFont


def label_font(size: int) -> ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` px (scalable on Pillow >= 10.1; no font files needed)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def contact_sheet(
    tiles: Sequence[Tuple[str, Image.Image]], thumb: int = 200, per_row: int = 5, label_height: int = 18, gap: int = 4
) -> Image.Image:
    """Thumbnails of ``tiles`` (label, picture) in rows, each with its label above it.

    Args:
        tiles: (label, PIL image) pairs, in reading order.
        thumb: width of each thumbnail in px (heights keep each picture's aspect ratio).
        per_row: thumbnails per row.
        label_height: px above each thumbnail for its label.
        gap: px between thumbnails.

    Returns:
        A new white RGB image.
    """
    if not tiles:
        raise ValueError("a contact sheet needs at least one picture")
    thumbs = [
        (label, im.convert("RGB").resize((thumb, max(1, round(im.height * thumb / im.width))), Image.Resampling.LANCZOS))
        for label, im in tiles
    ]
    height = max(t.height for _, t in thumbs)
    columns = min(per_row, len(thumbs))
    rows = (len(thumbs) + per_row - 1) // per_row
    sheet = Image.new("RGB", (columns * (thumb + gap) - gap, rows * (height + label_height + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    font = label_font(max(10, label_height - 6))
    for i, (label, picture) in enumerate(thumbs):
        x, y = (i % per_row) * (thumb + gap), (i // per_row) * (height + label_height + gap)
        draw.text((x + 2, y + 2), label, fill=(0, 0, 0), font=font)
        sheet.paste(picture, (x, y + label_height))
    return sheet


__all__ = ["contact_sheet", "label_font"]
