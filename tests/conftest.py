"""Shared fixtures: tiny real images, the real VGG19, paths to the shared data.

The bundled images in ``painterly/data`` (chelsea.jpg, starry_night.jpg,
wave.jpg) are always available, so most tests use tiny copies of those and
run anywhere; tests that need ``../shared`` (the project's image folder) ask
for the ``shared`` fixture, which skips them cleanly when it is missing.

Threads are not forced here: run ``OMP_NUM_THREADS=1 python -m pytest`` on a
busy machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from PIL import Image

import painterly

#: The project's shared data folder (``/work/shared`` beside the checkout).
SHARED = Path(__file__).resolve().parents[2] / "shared"
#: Images shipped inside the package.
DATA = Path(painterly.__file__).resolve().parent / "data"

#: Long side of the tiny test copies, in pixels.
TINY = 64


def _tiny_copy(src: Path, dst: Path, size: int = TINY) -> Path:
    with Image.open(src) as img:
        img = img.convert("RGB")
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        img.save(dst)
    return dst


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; skips the test when it is not there."""
    if not (SHARED / "images").is_dir():
        pytest.skip(f"shared data folder {SHARED} not present")
    return SHARED


@pytest.fixture(scope="session")
def shared_mask(shared: Path) -> Path:
    """shared/images/mask.png (black/white region mask, 600x800)."""
    path = shared / "images" / "mask.png"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def shared_image(shared: Path, tiny_dir: Path) -> Callable[[str], Path]:
    """Factory: ``shared_image("content/tubingen.jpg")`` -> a 64 px PNG copy (skips if absent)."""

    def make(relative: str, size: int = TINY) -> Path:
        src = shared / "images" / relative
        if not src.is_file():
            pytest.skip(f"{src} not present")
        dst = tiny_dir / f"shared_{size}_{relative.replace('/', '_')}.png"
        return dst if dst.is_file() else _tiny_copy(src, dst, size)

    return make


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="session")
def content_path(tiny_dir: Path) -> Path:
    """The bundled cat photo at 64 px long side (64x43 PNG)."""
    return _tiny_copy(DATA / "chelsea.jpg", tiny_dir / "content.png")


@pytest.fixture(scope="session")
def style_path(tiny_dir: Path) -> Path:
    """The bundled Starry Night at 64 px long side (64x40 PNG)."""
    return _tiny_copy(DATA / "starry_night.jpg", tiny_dir / "style.png")


@pytest.fixture(scope="session")
def style2_path(tiny_dir: Path) -> Path:
    """The bundled Great Wave at 64 px long side (64x36 PNG)."""
    return _tiny_copy(DATA / "wave.jpg", tiny_dir / "style2.png")


@pytest.fixture(scope="session")
def vgg() -> Any:
    """The process-wide frozen VGG19 with the real weights (max pooling)."""
    from painterly.models.vgg import shared_vgg19

    return shared_vgg19("max")


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., Any]:
    """Factory of cheap TransferConfigs: 48 px, 8 iterations, one scale, style at 48 px, float32
    (exact values; the bfloat16 path has its own tests)."""
    from painterly.config import TransferConfig

    def make(**changes: Any) -> TransferConfig:
        values = dict(size=48, iterations=8, multiscale=False, style_size=48, precision="float32")
        values.update(changes)
        return TransferConfig(**values)

    return make

