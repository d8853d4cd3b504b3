"""The batch manifest: one JSON line per result, appended and fsynced as results arrive.

Each record has at least ``input``, ``output``, ``status`` (``done``,
``failed``, ``cancelled``, or ``retried`` when a worker died holding the
image and it went back in the queue), ``seconds``, ``worker`` (``host:pid``),
``error`` and ``attempts``. A record is one ``write`` of a whole line
followed by ``fsync``, so a crash or a power cut leaves at most one torn last
line, which readers skip. The file is a log: a later record for the same
input supersedes an earlier one, and ``--resume`` trusts a ``done`` record
only while its output still exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from ..errors import OutputError, UsageError
from .uris import exists

#: Default file name of the manifest, in the output folder.
MANIFEST_NAME = "painterly-batch.jsonl"
#: Fields every record has.
FIELDS = ("input", "output", "status", "seconds", "worker", "error", "attempts")


class Manifest:
    """An open manifest, appended to by the batch driver (the only writer).

    Args:
        path: the JSON Lines file (created, with its folder, if missing).

    Raises:
        OutputError: it cannot be opened for appending.
        UsageError: another running batch holds it.
    """

    def __init__(self, path: Union[str, os.PathLike]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: Optional[int] = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open the manifest {self.path}: {exc.strerror or exc}") from None
        try:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: no advisory locks; one batch per manifest is on the user
            pass
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise UsageError(
                f"another painterly batch is writing the manifest {self.path}; wait for it or give --manifest"
            ) from None
        self._torn = self._ends_torn()

    def _ends_torn(self) -> bool:
        """True when the file's last line has no newline (a write cut short by a crash)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() == 0:
                    return False
                handle.seek(-1, os.SEEK_END)
                return handle.read(1) != b"\n"
        except OSError:
            return False

    def write(self, record: Dict[str, Any]) -> None:
        """Append ``record`` as one line and fsync it.

        Raises:
            OutputError: the write failed (disk full): the batch stops rather than lose results.
        """
        if self._fd is None:
            raise OutputError(f"the manifest {self.path} is closed")
        line = json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n"
        if self._torn:  # finish a torn line so this record starts on its own
            line = "\n" + line
            self._torn = False
        data = line.encode("utf-8")
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # regular files write whole; this is for odd file systems
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as exc:
            raise OutputError(f"cannot write the manifest {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Close the file (and release the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest(path: Union[str, os.PathLike]) -> List[Dict[str, Any]]:
    """The records of a manifest in order; a missing file gives none, torn or foreign lines are skipped."""
    records: List[Dict[str, Any]] = []
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and "input" in record and "status" in record:
                    records.append(record)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    return records


def latest(records: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """The last record of each input."""
    last: Dict[str, Dict[str, Any]] = {}
    for record in records:
        last[str(record["input"])] = record
    return last


def already_done(last: Dict[str, Dict[str, Any]], input: str, output: str) -> bool:
    """True when ``input``'s last record (``last``: from :func:`latest`) says ``done`` into ``output``
    and that file exists."""
    record = last.get(input)
    return bool(record) and record.get("status") == "done" and record.get("output") == output and exists(output)


__all__ = ["FIELDS", "MANIFEST_NAME", "Manifest", "already_done", "latest", "read_manifest"]
