"""Helpers of the service tests: a real ``painterly serve`` subprocess on 127.0.0.1 and tiny real images."""

from __future__ import annotations

import io
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import httpx
from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"
FINAL = ("done", "failed", "cancelled")

#: A transfer config that runs for minutes at 48 px: for cancel and queue tests.
LONG_TRANSFER = {"size": 48, "iterations": 5000, "multiscale": False, "style_size": 48, "tolerance": 0}
#: A transfer config that finishes in a couple of seconds.
SHORT_TRANSFER = {"size": 32, "iterations": 10, "multiscale": False, "style_size": 32}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_bytes(name: str = "chelsea.jpg", size: int = 64) -> bytes:
    """A bundled image as a small PNG."""
    with Image.open(DATA / name) as img:
        img = img.convert("RGB")
        img.thumbnail((size, size))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()


def mutated(rng: Any, seeds: Sequence[bytes], edits: int, max_cut: int, max_insert: int) -> bytes:
    """One of ``seeds`` with 1..``edits`` random byte flips, cuts and insertions (upload fuzzing)."""
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, edits)):
        i = rng.randrange(len(data))
        kind = rng.random()
        if kind < 0.6:
            data[i] = rng.randrange(256)
        elif kind < 0.8:
            del data[i: i + rng.randint(1, max_cut)]
        else:
            data[i:i] = os.urandom(rng.randint(1, max_insert))
    return bytes(data)


def png_header_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR claiming ``width x height`` pixels, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


class Server:
    """``python -m painterly serve`` on a free 127.0.0.1 port.

    Args:
        data: the --data folder.
        args: more serve options.
    """

    def __init__(self, data: Path, *args: str, token: str = "") -> None:
        self.data = Path(data)
        self.args = list(args)
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Optional[subprocess.Popen] = None
        self.log = self.data.parent / f"serve-{self.port}.log"

    def start(self, timeout: float = 90.0) -> "Server":
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        env.pop("PAINTERLY_TOKEN", None)
        cmd = [sys.executable, "-m", "painterly", "serve", "--port", str(self.port), "--data", str(self.data),
               *self.args] + (["--token", self.token] if self.token else [])
        self._log_handle = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log_handle, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start in {timeout} s:\n{self.log.read_text()}")

    def client(self, token: Optional[str] = None, timeout: float = 60.0) -> httpx.Client:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log_handle", None):
            self._log_handle.close()

    stop = kill


def submit(client: httpx.Client, method: str, content: bytes, *, styles: Sequence[bytes] = (),
           model: Optional[str] = None, config: Optional[Dict[str, Any]] = None,
           content_name: str = "photo.png", content_type: str = "image/png") -> httpx.Response:
    """POST /api/jobs with real multipart parts."""
    import json

    files: List[Any] = [("content", (content_name, content, content_type))]
    files += [("style", (f"style{i}.png", s, "image/png")) for i, s in enumerate(styles)]
    data = {"method": method}
    if model is not None:
        data["model"] = model
    if config is not None:
        data["config"] = json.dumps(config)
    return client.post("/api/jobs", files=files, data=data)


def wait_for(client: httpx.Client, job_id: str, statuses: Iterable[str] = FINAL, timeout: float = 60.0,
             progress: float = -1.0) -> Dict[str, Any]:
    """Poll the job until its status is one of ``statuses`` (and progress above ``progress``)."""
    wanted = tuple(statuses)
    deadline = time.monotonic() + timeout
    job: Dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in wanted and job.get("progress", 0) > progress:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {wanted} in {timeout} s: {job}")


def read_events(client: httpx.Client, job_id: str, last_event_id: Optional[int] = None,
                timeout: float = 60.0) -> List[Dict[str, Any]]:
    """The job's SSE stream to its end, parsed: [{"id", "event", "data"}]."""
    import json

    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events: List[Dict[str, Any]] = []
    current: Dict[str, Any] = {}
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                current = {}
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "id":
                current["id"] = int(value)
            elif key == "event":
                current["event"] = value
            elif key == "data":
                current["data"] = json.loads(value)
    return events


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
