"""Process-wide memory settings: keep freed frame-sized blocks for reuse.

Painting a video or a folder allocates and frees the same few frame-sized
arrays (a 640x640 float32 RGB frame is 4.9 MB) for every frame. glibc's
malloc serves blocks that large with ``mmap`` and hands them back to the
kernel on ``free``, so each new array pays a page fault per 4 kB on first
touch: about a third of the temporal blender's time at 640 px
(benchmarks/results/video_consistency.txt). Raising the mmap threshold and
the trim threshold makes malloc keep those blocks in its heap and reuse
them. Blocks above the mmap threshold (a 24-megapixel float image) are still
mapped and returned at once, so the peak memory of huge images is unchanged.

A process-wide setting, so the host program (CLI, service, batch worker)
calls :func:`reuse_freed_memory`, not the algorithms.
"""

from __future__ import annotations

import ctypes
import sys

#: Blocks up to this size (bytes) come from malloc's heap and are reused (glibc's ceiling is 32 MiB).
MMAP_THRESHOLD = 32 << 20
#: Free memory (bytes) at the top of the heap that malloc keeps instead of returning it.
TRIM_THRESHOLD = 512 << 20

# mallopt's parameter numbers in glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_state = {"done": False, "ok": False}


def reuse_freed_memory() -> bool:
    """Let malloc keep freed blocks up to :data:`MMAP_THRESHOLD` bytes for reuse (idempotent).

    Returns:
        True when the setting took effect (Linux with glibc); False elsewhere
        (macOS, Windows, musl), where it is a no-op.
    """
    if _state["done"]:
        return _state["ok"]
    _state["done"] = True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Both: setting either one alone also freezes glibc's own adaptive threshold at its small start value.
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    _state["ok"] = ok
    return ok


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "reuse_freed_memory"]
