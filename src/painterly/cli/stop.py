"""Ctrl-C and SIGTERM as the job layer's cancel event.

The first Ctrl-C (or a SIGTERM, what schedulers and ``kill`` send) sets the
event: the running image stops at its next iteration or tile, the best result
so far is written, and the command exits 130. A second Ctrl-C raises
KeyboardInterrupt at once, for when the user really wants out.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Any, Iterator


@contextlib.contextmanager
def cancel_on_signals(announce: bool = True) -> Iterator[threading.Event]:
    """Yield an event that SIGINT and SIGTERM set while the block runs (main thread only).

    Args:
        announce: say on stderr that the run is stopping, on the first signal.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event  # an embedding program owns the signals
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        event.set()
        if announce:
            try:
                sys.stderr.write("\npainterly: stopping (keeping the best result so far); Ctrl-C again to abort\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # pragma: no cover - no signals here
            pass
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


__all__ = ["cancel_on_signals"]
