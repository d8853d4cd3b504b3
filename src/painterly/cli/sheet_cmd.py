"""``painterly sheet PHOTO -o SHEET``: the photo in every installed style on one labelled contact sheet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List, Tuple

from ..config import StylizeConfig

#: Long side in px at which each style paints the photo (the sheet shows thumbnails).
SHEET_SIZE = 384


def cmd_sheet(args: argparse.Namespace) -> int:
    from PIL import Image

    from ..imaging.io import check_output_path, load_array, save_image
    from ..imaging.sheet import contact_sheet
    from ..jobs.painters import make_painter
    from ..models.checkpoints import list_models

    out = check_output_path(args.output)  # a bad name fails before minutes of painting
    photo = load_array(args.photo, size=args.size)
    tiles: List[Tuple[str, Any]] = [("photo", Image.fromarray(photo))]
    for info in list_models():
        if info.kind != "feedforward":
            continue
        painter = make_painter("stylize", StylizeConfig(model=str(info.path), size=args.size))
        tiles.append((info.name, Image.fromarray(painter.paint(photo).pixels)))
        if not args.quiet:
            print(f"painterly: painted {info.name}", file=sys.stderr)
    for style in args.style_image or ():
        painter = make_painter("arbitrary", StylizeConfig(style_images=(style,), size=args.size))
        tiles.append((f"any: {Path(style).stem}", Image.fromarray(painter.paint(photo).pixels)))
    save_image(contact_sheet(tiles, thumb=args.thumb), out)
    print(f"wrote {out} ({len(tiles) - 1} styles)")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``sheet`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "sheet", help="paint a photo in every installed style on one labelled contact sheet",
        description="Paint PHOTO with every installed feed-forward style (and any --style-image, through the "
        "arbitrary-style model) and put the results side by side with their names, to choose a style.",
    )
    p.add_argument("photo", metavar="PHOTO", help="the photo")
    p.add_argument("-o", "--output", required=True, metavar="SHEET", help="the contact sheet image to write")
    p.add_argument("--style-image", action="append", metavar="IMAGE", help="also paint in the style of this image")
    p.add_argument("--size", type=int, default=SHEET_SIZE, metavar="N",
                   help=f"long side at which each style paints the photo (default: {SHEET_SIZE})")
    p.add_argument("--thumb", type=int, default=240, metavar="N", help="width of each thumbnail in px (default: 240)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full stack trace on errors")
    p.set_defaults(func=cmd_sheet)


__all__ = ["cmd_sheet", "register"]
