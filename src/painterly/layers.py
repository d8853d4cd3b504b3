"""Names of the VGG19 layers (torch-free, so configs can validate them cheaply)."""

from __future__ import annotations

from typing import Dict, Iterable, List

from .errors import ConfigError, did_you_mean

#: Convs per block of VGG19 (block index 1..5).
BLOCK_CONVS: Dict[int, int] = {1: 2, 2: 2, 3: 4, 4: 4, 5: 4}


def _layer_names() -> List[str]:
    names: List[str] = []
    for b, n in BLOCK_CONVS.items():
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


#: Every layer in network order: conv1_1, relu1_1, ..., relu5_4, pool5.
LAYER_NAMES: List[str] = _layer_names()
LAYER_INDEX: Dict[str, int] = {n: i for i, n in enumerate(LAYER_NAMES)}


def check_layers(layers: Iterable[str]) -> List[str]:
    """Return ``layers`` as a list, raising :class:`ConfigError` on an unknown name."""
    out = list(layers)
    for name in out:
        if name not in LAYER_INDEX:
            raise ConfigError(
                f"unknown VGG19 layer '{name}'{did_you_mean(name, LAYER_NAMES)}; "
                "layers are conv/relu{1..5}_{1..4} and pool1..pool5, e.g. relu4_2"
            )
    return out
