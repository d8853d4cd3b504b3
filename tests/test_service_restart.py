"""The job store survives the server: SIGKILL while jobs run and wait, restart, every job finishes."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from service_support import SHORT_TRANSFER, Server, decode, png_bytes, read_events, submit, wait_for  # noqa: E402


def test_sigkill_then_restart_finishes_every_job_and_keeps_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo, painting = png_bytes("chelsea.jpg", 64), png_bytes("wave.jpg", 48)
    server = Server(data, "--workers", "1", "--threads", "1").start()
    try:
        with server.client() as client:
            earlier = submit(client, "stylize", photo, model="wave", config={"size": 32}).json()["id"]
            assert wait_for(client, earlier)["status"] == "done"
            gone = submit(client, "stylize", photo, model="udnie", config={"size": 32}).json()["id"]
            wait_for(client, gone)
            assert client.delete(f"/api/jobs/{gone}").json()["deleted"]
            # A few seconds of optimization: running when the server dies.
            slow = submit(client, "transfer", photo, styles=[painting],
                          config=dict(SHORT_TRANSFER, iterations=20, tolerance=0)).json()["id"]
            queued = [submit(client, "stylize", photo, model=m, config={"size": 32}).json()["id"]
                      for m in ("shipwreck", "starry_night")]
            wait_for(client, slow, ("running",), progress=0.0)
            assert all(client.get(f"/api/jobs/{q}").json()["status"] == "queued" for q in queued)
    finally:
        server.kill(signal.SIGKILL)
    assert server.proc is not None and server.proc.returncode == -signal.SIGKILL
    with sqlite3.connect(data / "jobs.sqlite3") as db:  # what the dead server left behind
        states = dict(db.execute("SELECT id, status FROM jobs"))
    assert states[slow] == "running" and all(states[q] == "queued" for q in queued)

    again = Server(data, "--workers", "1", "--threads", "1").start()
    try:
        with again.client() as client:
            for job_id in [slow, *queued]:
                job = wait_for(client, job_id, timeout=90)
                assert job["status"] == "done", job
                assert decode(client.get(f"/api/jobs/{job_id}/result").content).format == "PNG"
            assert client.get(f"/api/jobs/{slow}").json()["attempts"] == 2
            history = [j["id"] for j in client.get("/api/jobs").json()["jobs"]]
            assert history == [queued[1], queued[0], slow, earlier]  # newest first; the deleted one stays gone
            assert client.get(f"/api/jobs/{earlier}/result").status_code == 200
            # The stream tells the story across the restart, ending in one final status.
            events = read_events(client, slow)
            statuses = [e["data"]["status"] for e in events if e["event"] == "status"]
            assert statuses == ["queued", "running", "queued", "running", "done"]
            assert [e["id"] for e in events] == list(range(1, len(events) + 1))
            # SIGTERM (Ctrl-C, a service manager) stops a running job without calling it
            # cancelled: it stays 'running' in the store, so the next start runs it again.
            long = submit(client, "transfer", photo, styles=[painting],
                          config=dict(SHORT_TRANSFER, iterations=5000, tolerance=0)).json()["id"]
            wait_for(client, long, ("running",), progress=0.0)
        started = time.monotonic()
        again.kill(signal.SIGTERM)
        assert time.monotonic() - started < 15
        with sqlite3.connect(data / "jobs.sqlite3") as db:
            assert db.execute("SELECT status FROM jobs WHERE id = ?", (long,)).fetchone() == ("running",)
        assert not list((data / "jobs").glob("*/*.upload")) and not list((data / "jobs").glob("*/.*tmp*"))
    finally:
        again.kill(signal.SIGKILL)
