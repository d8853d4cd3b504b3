"""Tiny feed-forward models for the stylize / ONNX / CLI tests (shared by test_stylize,
test_onnx and test_fast_cli; not a test module itself).

Weights are random: these tests check plumbing (shapes, tiling, backends,
files, the CLI), which does not depend on what the network learned. The norm
layers' gamma/beta are randomized too (a fresh network has gamma 1, beta 0 in
every style, which would make all styles identical and hide blending bugs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

import painterly

DATA = Path(painterly.__file__).resolve().parent / "data"
PHOTO = DATA / "chelsea.jpg"  # bundled (CC0), always present


def make_net(styles: int = 2, seed: int = 0, architecture: str = "fast"):
    import torch

    from painterly.models.transformer import CondInstanceNorm, build_network

    torch.manual_seed(seed)
    options = {"channels": [8, 16], "blocks": 1} if architecture == "fast" else {"channels": [4, 8, 8], "blocks": 1}
    net = build_network(architecture, n_styles=styles, **options)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, CondInstanceNorm):
                m.weight.normal_(1.0, 0.5)
                m.bias.normal_(0.0, 0.5)
    return net.eval()


def save_tiny_model(path: Path, names: Sequence[str] = ("starry", "wave"), seed: int = 0) -> Path:
    from painterly.models.checkpoints import make_meta, save_model

    net = make_net(len(names), seed)
    return save_model(path, net, make_meta(net, list(names)))


def photo_array(size: int = 96) -> np.ndarray:
    """The bundled cat photo, long side ``size`` px, uint8 (H, W, 3)."""
    from painterly.imaging import load_array

    return load_array(PHOTO, size=size)


def write_photo(path: Path, size: int = 64) -> Path:
    Image.fromarray(photo_array(size)).save(path)
    return path
