"""The ``painterly serve`` subcommand: the web page and HTTP API on a local port.

Binds the socket itself before starting uvicorn, so a port in use is a
one-line error and ``--port 0`` prints the port the system picked.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .options import number

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/painterly/serve``, else ``~/.local/share/painterly/serve``."""
    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(home) / "painterly" / "serve"


def is_loopback(host: str) -> bool:
    """True when ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C / SIGTERM (running jobs are re-queued for the next start)."""
    token = args.token or os.environ.get("PAINTERLY_TOKEN", "")
    if not is_loopback(args.host) and not token and not args.insecure:
        raise UsageError(
            f"--host {args.host} is reachable from other machines: give --token (or $PAINTERLY_TOKEN), "
            "or --insecure to serve without one"
        )
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 (cores / workers) or more, not {args.threads}")
    data = Path(args.data).expanduser() if args.data else default_data_dir()
    sock = _bind(args.host, args.port)  # first: a taken port fails before seconds of imports
    try:
        _serve(args, sock, data, token)
    finally:
        sock.close()
    return 0


def _serve(args: argparse.Namespace, sock: socket.socket, data: Path, token: str) -> None:
    from ..errors import require

    require("fastapi", "serve")
    uvicorn: Any = require("uvicorn", "serve")
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--data {data}: cannot create the folder ({exc.strerror})") from None
    from ..jobs.api import set_threads
    from ..memory import reuse_freed_memory
    from ..service.app import Settings, _threads_per_job, create_app

    settings = Settings(
        data_dir=data, workers=args.workers, max_upload_bytes=int(args.max_upload_mb * (1 << 20)),
        max_queued=args.max_queue, token=token, cors=tuple(args.cors or ()), threads=args.threads,
    )
    set_threads(args.threads or _threads_per_job(args.workers))
    reuse_freed_memory()
    # Painting threads hold the GIL in bursts; a shorter switch interval keeps the
    # event loop answering status requests promptly while they run.
    sys.setswitchinterval(0.001)
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/"
    print(f"painterly serve: {url}  (API docs: {url}docs; jobs in {data}; {args.workers} worker(s); Ctrl-C stops)",
          flush=True)
    if token:
        print("painterly serve: the API needs 'Authorization: Bearer <token>'", flush=True)
    config = uvicorn.Config(create_app(settings), log_level=args.log_level, access_log=args.log_level == "debug",
                            timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "serve",
        help="the web page and HTTP API: drop a photo, pick a style, watch it paint",
        description="Serve the painterly web page and HTTP API (OpenAPI docs at /docs). Jobs are kept "
        "in a SQLite queue in --data and survive restarts: jobs queued or running when the server "
        "stopped run when it starts again. Needs: pip install 'painterly[serve]'.",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=number(int, 0, 65535), default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--data", metavar="DIR",
                   help=f"folder of the job store and files (default: {default_data_dir()})")
    p.add_argument("--workers", type=number(int, 1), default=1, metavar="N", help="jobs painted at once (default: 1)")
    p.add_argument("--max-upload-mb", type=number(float, 0, 4096, above=True), default=50.0, metavar="MB",
                   help="largest upload in megabytes (default: 50)")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads per job (default: 0, the cores divided by --workers)")
    p.add_argument("--max-queue", type=number(int, 1), default=100, metavar="N",
                   help="queued jobs beyond which new ones are refused with 429 (default: 100)")
    p.add_argument("--token", metavar="T",
                   help="require 'Authorization: Bearer T' on the API (default: $PAINTERLY_TOKEN)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without a token")
    p.add_argument("--cors", action="append", metavar="ORIGIN",
                   help="let pages from ORIGIN call the API (repeat for several)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"),
                   help="server log level (default: warning)")
    p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                   help="show the full stack trace on errors")
    p.set_defaults(func=cmd_serve)


__all__ = ["cmd_serve", "default_data_dir", "is_loopback", "register"]
