"""The progress display's log mode (pipes, files, CI) and terminal mode, on a fake clock."""

import io

from painterly.cli.progressbar import ProgressBar, TrainProgressBar, format_duration
from painterly.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(bar, clock, steps, total, seconds_per_step, kind="transfer"):
    for step in range(1, steps + 1):
        clock.now += seconds_per_step
        bar(Progress(step=step, total=total, loss=1.0, kind=kind))


def test_log_mode_writes_a_line_per_tenth_of_the_run_and_the_last_step():
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(out, tty=False, clock=clock)
    feed(bar, clock, 100, 100, 1.0)
    lines = out.getvalue().splitlines()
    # the first step, one per 10% crossed, and the final one (which is also the 100% crossing)
    assert len(lines) == 11, lines
    assert lines[0].startswith("painterly: 1/100 (1%)")
    assert lines[-1].startswith("painterly: 100/100 (100%)")
    assert "\r" not in out.getvalue()


def test_log_mode_says_where_a_long_run_is_at_least_every_max_interval():
    """A 160,000-step training at 5 s a step crosses 10% once a day: without the heartbeat
    a log under nohup stays silent for hours."""
    out, clock = io.StringIO(), Clock()
    bar = TrainProgressBar(out, tty=False, clock=clock, max_interval=60.0)
    feed(bar, clock, 100, 160_000, 5.0, kind="train")  # 500 s, 0.06% of the run
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 500 // 60, lines  # the first step, then one a minute
    assert lines[-1].startswith("painterly: 97/160000")
    assert "s/it" in lines[-1] and "ETA" in lines[-1]


def test_no_heartbeat_when_max_interval_is_zero():
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(out, tty=False, clock=clock, max_interval=0)
    feed(bar, clock, 100, 160_000, 5.0)
    assert len(out.getvalue().splitlines()) == 1


def test_terminal_mode_redraws_one_line_with_rate_and_eta():
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(out, tty=True, clock=clock)
    feed(bar, clock, 10, 20, 0.5)
    bar.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("[#####.....] 10/20")
    assert "2.0 it/s" in last and "ETA 0:05" in last


def test_format_duration():
    assert format_duration(5) == "0:05"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "?"
