"""The job store: jobs and their events in SQLite (WAL), their files in a folder per job.

The queue survives the server: a job is a row, queued jobs are taken in the
order they came, and :meth:`JobStore.recover` (called at start-up) puts the
jobs that were running when the process died back in the queue. Events (a
job's status changes and throttled progress) are rows too, numbered per job,
so a Server-Sent Events client that reconnects with ``Last-Event-ID`` gets
exactly what it missed, even across a restart.

Only this module writes SQL. It has no web dependency: the worker pool and
the HTTP layer both use it, from any thread (one connection per thread).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

#: Job states; the last three are final.
STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")

#: A job that was running when the server died this many times is failed rather
#: than retried again: it may be what kills the server.
MAX_ATTEMPTS = 3

_ID = re.compile(r"^[0-9a-f]{16}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    created REAL NOT NULL,
    method TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    files TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    started REAL,
    finished REAL,
    seconds REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
"""


def valid_id(job_id: str) -> bool:
    """True when ``job_id`` has the shape of an id this store makes (so it is safe in a path)."""
    return bool(_ID.match(job_id or ""))


def new_id() -> str:
    """A random job id: 16 hex digits (64 bits), unguessable and safe as a folder name."""
    return secrets.token_hex(8)


@dataclass
class Job:
    """One job as stored.

    Attributes:
        id: random id (16 hex digits).
        created: submit time, Unix seconds.
        method: ``stylize``, ``arbitrary`` or ``transfer``.
        model: the model name (``stylize``).
        config: the method's config fields as given (validated at submit).
        files: stored file names in the job folder: ``content``, ``styles``, and
            the upload names the user gave (for display only, never used as paths).
        status: one of :data:`STATUSES`.
        progress: 0..1.
        error: one line when failed or cancelled.
        started, finished: Unix seconds or None.
        seconds: painting time (read, paint, write).
        attempts: times the job was started.
        result: file name of the result in the job folder ('' when none).
        width, height: result size in px.
        detail: a few words from the painter.
        cancel_requested: a cancel was asked for (kept across a restart).
    """

    id: str
    seq: int
    created: float
    method: str
    model: str
    config: Dict[str, Any]
    files: Dict[str, Any]
    status: str
    progress: float = 0.0
    error: str = ""
    started: Optional[float] = None
    finished: Optional[float] = None
    seconds: Optional[float] = None
    attempts: int = 0
    result: str = ""
    width: int = 0
    height: int = 0
    detail: str = ""
    cancel_requested: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Job":
        data = dict(row)
        data["config"] = json.loads(data["config"])
        data["files"] = json.loads(data["files"])
        data["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**data)


class JobStore:
    """Jobs in ``data_dir/jobs.sqlite3``, their files in ``data_dir/jobs/<id>/``.

    Args:
        data_dir: the folder (created).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / "jobs.sqlite3"
        self._local = threading.local()
        # Claims and event numbering must not interleave between threads of this
        # process; SQLite's own locking covers other processes.
        self._write_lock = threading.RLock()
        with self._write_lock:
            self._db().executescript(_SCHEMA)

    # -- connections ---------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode loses at most the last commits on power loss, never
            # consistency; FULL would fsync on every progress event.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, store: "JobStore") -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._write_lock.acquire()
            db = self.store._db()
            db.execute("BEGIN IMMEDIATE")
            return db

        def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
            db = self.store._db()
            try:
                db.execute("COMMIT" if kind is None else "ROLLBACK")
            finally:
                self.store._write_lock.release()

    def _tx(self) -> "JobStore._Tx":
        return JobStore._Tx(self)

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- jobs ----------------------------------------------------------------

    def job_dir(self, job_id: str) -> Path:
        """The folder of a job's files (``job_id`` checked, so never a user-made path)."""
        if not valid_id(job_id):
            raise KeyError(job_id)
        return self.jobs_dir / job_id

    def add(self, job_id: str, method: str, model: str, config: Dict[str, Any], files: Dict[str, Any],
            max_queued: int = 0) -> Optional[Job]:
        """Queue a new job whose files are already in :meth:`job_dir`.

        Args:
            max_queued: refuse (return None) when this many jobs are queued already (0: no limit).

        Returns:
            The job, or None when the queue is full.
        """
        now = time.time()
        with self._tx() as db:
            if max_queued > 0:
                (queued,) = db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetchone()
                if queued >= max_queued:
                    return None
            (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()
            db.execute(
                "INSERT INTO jobs (id, seq, created, method, model, config, files, status) VALUES (?,?,?,?,?,?,?,?)",
                (job_id, seq, now, method, model, json.dumps(config), json.dumps(files), "queued"),
            )
            self._add_event(db, job_id, "status", {"status": "queued", "progress": 0.0})
        return self.get(job_id)

    def get(self, job_id: str) -> Optional[Job]:
        """The job, or None."""
        if not valid_id(job_id):
            return None
        row = self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def list(self, offset: int = 0, limit: int = 20, status: Optional[str] = None) -> Tuple[List[Job], int]:
        """A page of jobs, newest first, and the total count."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        db = self._db()
        (total,) = db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()
        rows = db.execute(f"SELECT * FROM jobs {where} ORDER BY seq DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return [Job.from_row(r) for r in rows], int(total)

    def count(self, status: str) -> int:
        """Number of jobs with ``status``."""
        (n,) = self._db().execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (status,)).fetchone()
        return int(n)

    def mean_seconds(self, last: int = 20) -> float:
        """Mean painting time of the last finished jobs (0 when none): for Retry-After."""
        row = self._db().execute(
            "SELECT AVG(seconds) FROM (SELECT seconds FROM jobs WHERE status = 'done' AND seconds IS NOT NULL "
            "ORDER BY seq DESC LIMIT ?)", (last,)
        ).fetchone()
        return float(row[0] or 0.0)

    def claim(self) -> Optional[Job]:
        """Take the oldest queued job and mark it running; None when the queue is empty."""
        with self._tx() as db:
            row = db.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1, progress = 0 WHERE id = ?",
                (time.time(), row["id"]),
            )
            self._add_event(db, row["id"], "status", {"status": "running", "progress": 0.0})
        return self.get(row["id"])

    def progress(self, job_id: str, fraction: float, data: Dict[str, Any]) -> int:
        """Record a progress event; returns its event id."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'", (fraction, job_id))
            return self._add_event(db, job_id, "progress", data)

    def finish(self, job_id: str, status: str, *, error: str = "", seconds: Optional[float] = None,
               result: str = "", size: Tuple[int, int] = (0, 0), detail: str = "") -> None:
        """Mark a running job final (done, failed or cancelled) and add its final status event."""
        assert status in FINAL
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status = ?, error = ?, finished = ?, seconds = ?, result = ?, width = ?, height = ?, "
                "detail = ?, progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END WHERE id = ?",
                (status, error, now, seconds, result, size[0], size[1], detail, status, job_id),
            )
            row = db.execute("SELECT progress FROM jobs WHERE id = ?", (job_id,)).fetchone()
            self._add_event(db, job_id, "status", {
                "status": status, "error": error, "progress": float(row["progress"]) if row else 0.0,
                "result": bool(result), "seconds": seconds,
            })

    def cancel(self, job_id: str) -> Optional[str]:
        """Cancel a job: a queued one at once; a running one is flagged (the worker stops it).

        Returns:
            The status after the call (``cancelled``, ``running`` for a running
            job now flagged, or a final status unchanged); None for an unknown id.
        """
        with self._tx() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            status = row["status"]
            if status == "queued":
                db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, error = 'cancelled before it started', "
                    "cancel_requested = 1 WHERE id = ?", (time.time(), job_id),
                )
                self._add_event(db, job_id, "status", {"status": "cancelled", "error": "cancelled before it started",
                                                       "progress": 0.0, "result": False, "seconds": None})
                return "cancelled"
            if status == "running":
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return status

    def delete(self, job_id: str) -> bool:
        """Remove a final job, its events and its files; False when unknown or not final."""
        with self._tx() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] not in FINAL:
                return False
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            db.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return True

    def recover(self) -> List[str]:
        """At start-up: put jobs left running by a dead server back in the queue.

        A job that was asked to cancel is cancelled instead, and one that has
        been started :data:`MAX_ATTEMPTS` times is failed (it may be what kills
        the server). Returns the ids re-queued.
        """
        requeued = []
        with self._tx() as db:
            rows = db.execute("SELECT id, attempts, cancel_requested FROM jobs WHERE status = 'running'").fetchall()
            for row in rows:
                job_id = row["id"]
                if row["cancel_requested"]:
                    status, error = "cancelled", "cancelled (the server stopped while it ran)"
                elif row["attempts"] >= MAX_ATTEMPTS:
                    status, error = "failed", f"the server stopped {row['attempts']} times while this job ran"
                else:
                    db.execute("UPDATE jobs SET status = 'queued', progress = 0, started = NULL WHERE id = ?",
                               (job_id,))
                    self._add_event(db, job_id, "status", {"status": "queued", "progress": 0.0,
                                                           "note": "the server restarted; the job starts again"})
                    requeued.append(job_id)
                    continue
                db.execute("UPDATE jobs SET status = ?, error = ?, finished = ? WHERE id = ?",
                           (status, error, time.time(), job_id))
                self._add_event(db, job_id, "status", {"status": status, "error": error, "progress": 0.0,
                                                       "result": False, "seconds": None})
        return requeued

    # -- events --------------------------------------------------------------

    def _add_event(self, db: sqlite3.Connection, job_id: str, event: str, data: Dict[str, Any]) -> int:
        (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job_id = ?", (job_id,)).fetchone()
        db.execute("INSERT INTO events (job_id, seq, event, data) VALUES (?,?,?,?)",
                   (job_id, seq, event, json.dumps(data)))
        return int(seq)

    def events(self, job_id: str, after: int = 0) -> List[Tuple[int, str, Dict[str, Any]]]:
        """The job's events numbered above ``after``: ``(id, event, data)`` in order."""
        rows = self._db().execute(
            "SELECT seq, event, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq", (job_id, after)
        )
        return [(int(r["seq"]), r["event"], json.loads(r["data"])) for r in rows]

    def iter_ids(self) -> Iterator[str]:
        """All job ids (for housekeeping)."""
        for row in self._db().execute("SELECT id FROM jobs"):
            yield row["id"]


__all__ = ["FINAL", "Job", "JobStore", "MAX_ATTEMPTS", "STATUSES", "new_id", "valid_id"]
