"""Regenerate the pictures in docs/ and the README gallery from the bundled models.

    python docs/make_images.py

Writes, for every bundled feed-forward model, ``docs/images/models/NAME_astronaut.jpg``
(the public-domain NASA portrait from the package's example images, never part of the
training photos, painted at 512 px) and ``docs/images/gallery.jpg``: the photo, then the
photo in every bundled style, in one row with labels. With the AdaIN decoder bundled it
also paints the photo in the style of each public-domain painting bundled with the package
(``docs/images/models/adain_NAME.jpg``). Deterministic: the same models give the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "src"))

from painterly.config import StylizeConfig  # noqa: E402
from painterly.imaging.sheet import contact_sheet  # noqa: E402
from painterly.jobs.api import stylize  # noqa: E402
from painterly.models.checkpoints import list_models  # noqa: E402

DATA = DOCS.parent / "src" / "painterly" / "data"
PHOTO = DATA / "astronaut.jpg"
SAMPLE_SIZE = 512
THUMB = 200


def main() -> int:
    out_dir = DOCS / "images" / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    tiles = [("photo", Image.open(PHOTO).convert("RGB"))]
    models = list_models(prefer=(".safetensors", ".onnx"))
    for info in models:
        if info.kind != "feedforward":
            continue
        name = info.name
        image = stylize(PHOTO, str(info.path), config=StylizeConfig(size=SAMPLE_SIZE))
        image.save(out_dir / f"{name}_astronaut.jpg", quality=88)
        tiles.append((name, image))
        print(f"wrote {out_dir / (name + '_astronaut.jpg')}")
    if any(i.kind == "adain" for i in models):
        for painting in ("starry_night", "wave"):
            image = stylize(PHOTO, style_images=[DATA / f"{painting}.jpg"], config=StylizeConfig(size=SAMPLE_SIZE))
            image.save(out_dir / f"adain_{painting}.jpg", quality=88)
            tiles.append((f"AdaIN: {painting}", image))
            print(f"wrote {out_dir / ('adain_' + painting + '.jpg')}")

    sheet = contact_sheet(tiles, thumb=THUMB, per_row=5)
    sheet.save(DOCS / "images" / "gallery.jpg", quality=88)
    print(f"wrote {DOCS / 'images' / 'gallery.jpg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
