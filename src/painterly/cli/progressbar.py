"""A progress display fed by :class:`~painterly.progress.Progress` events.

On a terminal it redraws one line in place::

    [#####.....] 120/260  scale 2/3 256x171  loss 1.234e-01  5.3 it/s  ETA 0:26

Anywhere else (CI logs, pipes, files) it writes a plain line only when the run
crosses another ``every_percent`` of its steps and at least ``min_interval``
seconds have passed since the last line (plus the final step), so logs stay
short however long the run; and at least every ``max_interval`` seconds, so a
run of hours under ``nohup`` still says where it is (10% of a 160,000-iteration
training is a day).
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import Any, Callable, Optional, TextIO

from ..progress import Progress


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss``; ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """Callable progress display; use as ``callback`` and call :meth:`close` at the end.

    Args:
        stream: where to write (default ``sys.stderr``).
        tty: force terminal (redrawn line) or log (plain lines) mode; default
            asks ``stream.isatty()``.
        width: characters of the bar between the brackets.
        min_interval: log mode: least seconds between two lines; terminal
            mode: least seconds between two redraws.
        every_percent: log mode: write a line each time this much more of the
            run is done.
        max_interval: log mode: write a line when this many seconds have
            passed since the last one, whatever the progress (0: never).
        clock: time source (seconds), replaceable in tests.
    """

    def __init__(
        self,
        stream: Optional[TextIO] = None,
        *,
        tty: Optional[bool] = None,
        width: int = 10,
        min_interval: Optional[float] = None,
        every_percent: float = 10.0,
        max_interval: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            try:
                tty = bool(isatty()) if isatty else False
            except (ValueError, OSError):  # closed or odd stream
                tty = False
        self.tty = tty
        self.width = max(1, width)
        self.min_interval = min_interval if min_interval is not None else (0.1 if tty else 2.0)
        self.every_percent = every_percent
        self.max_interval = max_interval
        self.clock = clock
        self._mark: Optional[tuple] = None  # (stage, step, clock) at the start of a scale
        self._rate = math.nan  # steps per second
        self._last_draw = -math.inf
        self._last_bucket = -1
        self._line_len = 0
        self._open = False  # a redrawn line is on screen without its newline
        self.lines = 0  # lines written (log mode) or redraws (terminal mode)

    # -- formatting ---------------------------------------------------------

    def _update_rate(self, event: Progress, now: float) -> None:
        """Track steps per second within the current scale.

        Measured from the first event of the scale, so model loading and the
        cheaper coarse scales do not skew it; until a scale has two events the
        previous scale's rate stands in.
        """
        if self._mark is None or self._mark[0] != event.stage:
            self._mark = (event.stage, event.step, now)
            return
        _, step0, t0 = self._mark
        if event.step > step0 and now > t0:
            self._rate = (event.step - step0) / (now - t0)

    def format(self, event: Progress, bar: bool = True) -> str:
        """The status text for ``event`` (with the ``[###...]`` bar when ``bar``)."""
        parts = [self._count(event, bar)]
        h, w = event.size if event.size else (0, 0)
        scale = f"scale {event.stage + 1}/{event.stages}" if event.stages > 1 else "scale 1/1"
        parts.append(f"{scale} {w}x{h}" if h and w else scale)
        parts.append(f"loss {event.loss:.3e}" if math.isfinite(event.loss) else f"loss {event.loss}")
        parts += self._speed(event, "{:.1f}")
        return "  ".join(parts)

    def _count(self, event: Progress, bar: bool) -> str:
        """``[####......] 12/90`` (or ``12/90 (13%)`` without the bar)."""
        total = max(event.total, event.step, 1)
        frac = min(1.0, max(0.0, event.step / total))
        if not bar:
            return f"{event.step}/{total} ({frac:.0%})"
        filled = int(frac * self.width)
        return "[" + "#" * filled + "." * (self.width - filled) + f"] {event.step}/{total}"

    def _speed(self, event: Progress, rate_format: str) -> list:
        """``["3.1 it/s", "ETA 0:12"]`` from the measured rate (``["ETA ?"]`` before there is one)."""
        rate, total = self._rate, max(event.total, event.step, 1)
        if not (math.isfinite(rate) and rate > 0):
            return ["ETA ?"]
        speed = f"{rate_format.format(rate)} it/s" if rate >= 0.95 else f"{1 / rate:.1f} s/it"
        return [speed, "ETA " + format_duration((total - event.step) / rate)]

    # -- callback -----------------------------------------------------------

    def __call__(self, event: Progress) -> None:
        now = self.clock()
        self._update_rate(event, now)
        final = event.step >= event.total
        if self.tty:
            if final or now - self._last_draw >= self.min_interval:
                self._redraw(self.format(event))
                self._last_draw = now
        else:
            total = max(event.total, 1)
            bucket = int(100 * event.step / total // max(self.every_percent, 1e-9))
            since = now - self._last_draw
            due = bucket > self._last_bucket and since >= self.min_interval
            stale = self.max_interval > 0 and since >= self.max_interval
            if final or due or stale:
                self._write("painterly: " + self.format(event, bar=False) + "\n")
                self._last_draw = now
                self._last_bucket = bucket

    def _redraw(self, text: str) -> None:
        # A line wider than the terminal wraps, and "\r" then redraws only its tail.
        columns = shutil.get_terminal_size((80, 24)).columns
        text = text[: max(20, columns - 1)]
        pad = max(0, self._line_len - len(text))
        self._write("\r" + text + " " * pad)
        self._line_len = len(text)
        self._open = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed pipe / stream: progress is not worth dying for
            return
        self.lines += 1

    def close(self) -> None:
        """End the redrawn line (terminal mode) so later output starts on a fresh line."""
        if self._open:
            self._open = False
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class TrainProgressBar(ProgressBar):
    """The :class:`ProgressBar` for training (:class:`~painterly.progress.Progress` events of kind ``train``)::

        [###.......] 600/2000  loss 4.1e+00 (content 1.9 style 0.21 tv 0.012)  1.3 it/s  ETA 17:57

    The rate and ETA come from the event (training measures them itself,
    excluding setup). Files the run wrote (checkpoint, model, preview) are
    reported on lines of their own above the bar when ``show_files``.
    """

    def __init__(self, stream: Optional[TextIO] = None, *, show_files: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("every_percent", 5.0)
        super().__init__(stream, **kwargs)
        self.show_files = show_files

    def _update_rate(self, event: Any, now: float) -> None:
        rate = event.rate
        if rate and math.isfinite(rate) and rate > 0:
            self._rate = rate
        else:
            super()._update_rate(event, now)

    def format(self, event: Any, bar: bool = True) -> str:  # type: ignore[override]
        """The status text for a training event (``bar``: with the ``[###...]`` bar)."""
        loss = f"loss {event.loss:.3g}" if math.isfinite(event.loss) else f"loss {event.loss}"
        if event.losses:
            loss += " (" + " ".join(f"{k} {v:.3g}" for k, v in event.losses.items()) + ")"
        return "  ".join([self._count(event, bar), loss, *self._speed(event, "{:.2f}")])

    def __call__(self, event: Any) -> None:  # type: ignore[override]
        if self.show_files and getattr(event, "wrote", ()):
            names = ", ".join(str(p) for p in event.wrote)
            if self._open:  # finish the redrawn line so the note does not overwrite it
                self.close()
            self._write(f"painterly: wrote {names}\n")
        super().__call__(event)


__all__ = ["ProgressBar", "TrainProgressBar", "format_duration"]
