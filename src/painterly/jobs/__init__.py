"""The job layer: one way to paint that the CLI, the web service, video and batch all share.

* :mod:`~painterly.jobs.painters`: a method with its model and styles loaded once;
* :mod:`~painterly.jobs.plan`: input files and output names;
* :mod:`~painterly.jobs.run`: :func:`run_job` over files, one result per input;
* :mod:`~painterly.jobs.api`: the public ``stylize`` / ``transfer`` functions.

Names are imported lazily (no torch until a method needs it).
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: public name -> module that defines it
_EXPORTS = {
    "JobSpec": "painterly.jobs.run",
    "JobResult": "painterly.jobs.run",
    "ItemResult": "painterly.jobs.run",
    "run_job": "painterly.jobs.run",
    "paint_one": "painterly.jobs.run",
    "Painter": "painterly.jobs.painters",
    "Painting": "painterly.jobs.painters",
    "make_painter": "painterly.jobs.painters",
    "stylize": "painterly.jobs.api",
    "transfer": "painterly.jobs.api",
    "load_model": "painterly.jobs.api",
    "list_models": "painterly.jobs.api",
    "set_threads": "painterly.jobs.api",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
