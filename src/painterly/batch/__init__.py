"""Batch at scale: paint many images with a local worker pool or on a Ray cluster.

``painterly.batch(inputs, output, ...)`` (this package is callable; the
function is :func:`painterly.batch.run.batch`) and ``painterly batch`` on
the command line.

* :mod:`~painterly.batch.plan` and :mod:`~painterly.batch.uris`: which images, where the results go (paths or URIs);
* :mod:`~painterly.batch.worker`: what a worker does (load the painter once, paint task after task);
* :mod:`~painterly.batch.pool`: the local runner (spawned processes);
* :mod:`~painterly.batch.ray_runner`: the Ray runner (actors for one-pass methods, a task per image for optimization);
* :mod:`~painterly.batch.tracker`: queue, retries, manifest lines and progress events;
* :mod:`~painterly.batch.manifest`: the JSON Lines manifest and ``resume``.

Ray is imported only by the Ray runner: the local pool works without it.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from ..lazy import lazy_exports

#: public name -> module that defines it
_EXPORTS = {
    "batch": "painterly.batch.run",
    "BatchResult": "painterly.batch.run",
    "BatchProgress": "painterly.batch.tracker",
    "BatchTask": "painterly.batch.plan",
    "Manifest": "painterly.batch.manifest",
    "read_manifest": "painterly.batch.manifest",
    "MANIFEST_NAME": "painterly.batch.manifest",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`painterly.batch.run.batch`.

    ``painterly.batch`` names both the package and the function; importing a
    submodule (``import painterly.batch.manifest``) makes the attribute the
    package, so the package itself must be callable for ``painterly.batch(...)``
    to keep working.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .run import batch

        return batch(*args, **kwargs)

    @property
    def __signature__(self) -> Any:
        import inspect

        from .run import batch

        return inspect.signature(batch)


sys.modules[__name__].__class__ = _CallableModule
