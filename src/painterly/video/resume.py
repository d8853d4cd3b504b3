"""The resume state of an interrupted video run: a small sidecar folder beside the output.

When a run stops early (Ctrl-C, SIGTERM, ``cancel``, an error after some
frames) the output is closed as a playable video of the finished frames, and
``OUTPUT.painterly-resume/`` receives:

* ``state.json``: how many frames are finished, and a fingerprint of the
  run (input file, its size and modification time, the painter and every
  setting) so that ``--resume`` refuses to continue a different run;
* ``last.png``: the last finished frame, losslessly, because the temporal
  blend of the next frame starts from it.

``--resume`` then decodes the input from the start (cheap next to painting),
copies the finished frames from the partial output into the new one (for a
compressed container they are re-encoded once more, a second generation at
the same quality; a folder of PNG frames keeps its files as they are), primes
the blend with ``last.png`` and paints on from the first unfinished frame.
So every frame painted after the resume point is exactly what an
uninterrupted run paints, and the finished part differs from it only by that
one extra encode. The folder is deleted when the video is complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import UsageError

STATE_VERSION = 1
SUFFIX = ".painterly-resume"


def state_dir(output: Path) -> Path:
    """The sidecar folder of ``output`` (a file or a folder of frames)."""
    return output.with_name(output.name.rstrip("/") + SUFFIX)


def fingerprint(source: str, painter: Any, painter_config: Any, video_config: Any) -> Dict[str, Any]:
    """What must match for a run to be continued: input file identity, painter and settings."""
    from ..config import config_to_dict

    path = os.path.abspath(source)
    try:
        st = os.stat(path)
        identity = [st.st_size, int(st.st_mtime)]
    except OSError:
        identity = [0, 0]
    video = config_to_dict(video_config)
    video.pop("resume", None)
    return {
        "input": path,
        "input_identity": identity,
        "method": painter.method,
        "painter": painter.name,
        "config": config_to_dict(painter_config),
        "video": video,
    }


def save(folder: Path, print_: Dict[str, Any], frames_done: int, last_output: np.ndarray) -> None:
    """Write the state (atomically) after ``frames_done`` finished frames."""
    from PIL import Image

    from ..imaging.io import save_image, write_atomic

    folder.mkdir(exist_ok=True)
    save_image(Image.fromarray(last_output), folder / "last.png")
    state = {"version": STATE_VERSION, "frames_done": frames_done, "run": print_}
    write_atomic(folder / "state.json", json.dumps(state, indent=2, sort_keys=True))


def load(folder: Path) -> Optional[Tuple[Dict[str, Any], int, np.ndarray]]:
    """``(fingerprint, frames_done, last output uint8 (H, W, 3))``, or None when there is no usable state."""
    from ..imaging.io import load_array

    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        if state.get("version") != STATE_VERSION:
            return None
        last = load_array(folder / "last.png")
        return state["run"], int(state["frames_done"]), last
    except (OSError, ValueError, KeyError, TypeError):
        return None
    except Exception as exc:  # an unreadable last.png is an ImageError
        from ..errors import ImageError

        if isinstance(exc, ImageError):
            return None
        raise


def check_same_run(saved: Dict[str, Any], current: Dict[str, Any], folder: Path) -> None:
    """Raise :class:`UsageError` naming the first difference between two fingerprints."""
    for key in ("input", "input_identity", "method", "painter"):
        if saved.get(key) != current.get(key):
            what = {"input_identity": "input file (its size or date changed)"}.get(key, key)
            raise UsageError(
                f"cannot resume: the {what} differs from the interrupted run ({saved.get(key)} vs "
                f"{current.get(key)}); run without --resume to start over (or delete {folder})"
            )
    for group in ("config", "video"):
        old, new = saved.get(group, {}), current.get(group, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                flag = "--" + name.replace("_", "-")
                raise UsageError(
                    f"cannot resume: {flag} was {old.get(name)!r} in the interrupted run, now {new.get(name)!r}; "
                    "use the same settings, or run without --resume to start over"
                )


def clear(folder: Path) -> None:
    """Delete the sidecar folder (the video is complete, or a new run starts)."""
    shutil.rmtree(folder, ignore_errors=True)


__all__ = ["STATE_VERSION", "SUFFIX", "check_same_run", "clear", "fingerprint", "load", "save", "state_dir"]
