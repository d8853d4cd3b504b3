"""The web page and HTTP API (``painterly serve``; needs ``pip install 'painterly[serve]'``).

* :mod:`~painterly.service.store`: jobs and events in SQLite (WAL), files per job;
* :mod:`~painterly.service.worker`: worker threads painting through :mod:`painterly.jobs`;
* :mod:`~painterly.service.uploads`: upload checks (size, format by content, pixels, decoding);
* :mod:`~painterly.service.requests`: job requests checked before queueing;
* :mod:`~painterly.service.guard`: security headers, bearer token, body limit;
* :mod:`~painterly.service.app`: the FastAPI app (:func:`create_app`).

Nothing here is imported by the library; FastAPI is imported only by
:mod:`~painterly.service.app`.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "create_app": "painterly.service.app",
    "Settings": "painterly.service.app",
    "JobStore": "painterly.service.store",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
