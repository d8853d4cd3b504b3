"""The kinds of model file painterly reads, and how to build each one's network.

Model files say their ``kind`` in their metadata. This registry is torch-free
and names each kind's network builder as ``"module:function"``, imported only
when a network is built, so :mod:`~painterly.models.checkpoints` (which reads
files) never imports the network modules at import time, and the network
modules may use it freely: no import cycle.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Dict


@dataclass(frozen=True)
class ModelKind:
    """One kind of model file.

    Attributes:
        name: the ``kind`` in the file's metadata.
        description: what it is, for messages ("an AdaIN decoder").
        needs_styles: its metadata must list at least one style name (a
            feed-forward network has its styles baked in; an AdaIN decoder
            takes them from images at run time).
        builder: ``"module:function"`` building a fresh network from a
            :class:`~painterly.models.checkpoints.ModelInfo`.
    """

    name: str
    description: str
    needs_styles: bool
    builder: str

    def build(self, info: Any) -> Any:
        """A freshly initialized network for ``info`` (imports torch and the network module)."""
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(info)


#: Every kind painterly knows, by name.
KINDS: Dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        ModelKind("feedforward", "a feed-forward style network", True, "painterly.models.transformer:network_for"),
        ModelKind("adain", "an AdaIN decoder", False, "painterly.models.adain:decoder_for"),
    )
}


def model_kind(name: str) -> ModelKind:
    """The kind called ``name``.

    Raises:
        KeyError: an unknown kind (callers turn it into a ModelError naming the file).
    """
    return KINDS[name]


__all__ = ["KINDS", "ModelKind", "model_kind"]
