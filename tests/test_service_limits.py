"""Token auth, the bounded queue, and the ``serve`` command's refusals."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi")

from painterly.cli.main import main  # noqa: E402
from service_support import LONG_TRANSFER, Server, png_bytes, submit, wait_for  # noqa: E402

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("serve-limits") / "data"
    srv = Server(data, "--workers", "1", "--threads", "1", "--max-queue", "2", token=TOKEN).start()
    yield srv
    srv.kill()


def test_token_is_required_on_the_api(server: Server) -> None:
    with server.client(token="") as anonymous:
        r = anonymous.get("/api/jobs")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "token" in r.json()["error"]
        assert anonymous.post("/api/jobs", files={"content": ("a.png", b"x", "image/png")}).status_code == 401
        assert anonymous.get("/api/health").json()["auth"] is True  # open, so the page can say what is needed
        assert anonymous.get("/").status_code == 200  # the page loads, then asks for the token
    with server.client(token="wrong") as wrong:
        assert wrong.get("/api/models").status_code == 401
    with server.client() as good:
        assert good.get("/api/jobs").status_code == 200
        assert good.get("/api/models").status_code == 200
    with server.client(token="") as cookie:  # what the page sends for <img> and EventSource
        assert cookie.get("/api/jobs", headers={"Cookie": f"painterly_token={TOKEN}"}).status_code == 200


def test_full_queue_is_429_with_retry_after(server: Server) -> None:
    photo, painting = png_bytes("chelsea.jpg", 64), png_bytes("wave.jpg", 48)
    with server.client() as client:
        busy = submit(client, "transfer", photo, styles=[painting], config=LONG_TRANSFER).json()["id"]
        wait_for(client, busy, ("running",))
        waiting = [submit(client, "stylize", photo, model="wave", config={"size": 32}) for _ in range(2)]
        assert [r.status_code for r in waiting] == [202, 202]
        refused = submit(client, "stylize", photo, model="wave", config={"size": 32})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1 and "queue is full" in refused.json()["error"]
        assert client.get("/api/jobs").json()["total"] == 3  # the refused job left nothing behind
        client.delete(f"/api/jobs/{busy}")
        assert wait_for(client, busy, timeout=30)["status"] == "cancelled"
        for r in waiting:
            assert wait_for(client, r.json()["id"])["status"] == "done"
        assert submit(client, "stylize", photo, model="wave", config={"size": 32}).status_code == 202


def test_serve_refuses_a_public_host_without_token(capsys: Any, tmp_path: Path) -> None:
    code = main(["serve", "--host", "0.0.0.0", "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--token" in err and "--insecure" in err and err.startswith("painterly: error:")


def test_serve_says_when_the_port_is_taken(capsys: Any, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"127.0.0.1:{port}" in err and "--port" in err


@pytest.mark.parametrize("args,needle", [
    (["--workers", "0"], "--workers"),
    (["--max-upload-mb", "-1"], "--max-upload-mb"),
    (["--port", "70000"], "--port"),
])
def test_serve_bad_options_are_usage_errors(capsys: Any, args: list, needle: str) -> None:
    assert main(["serve", *args]) == 2
    assert needle in capsys.readouterr().err
