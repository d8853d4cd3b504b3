"""The HTTP API against a real ``painterly serve`` process on 127.0.0.1 (tiny real images, real models)."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from service_support import (  # noqa: E402
    LONG_TRANSFER, SHORT_TRANSFER, Server, decode, mutated, png_bytes, png_header_bomb, read_events, submit,
    wait_for,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: Mutated uploads sent through HTTP (the in-process fuzz in test_service_units.py sends thousands).
HTTP_FUZZ = int(os.environ.get("PAINTERLY_HTTP_FUZZ", "40"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("serve") / "data"
    srv = Server(data, "--workers", "2", "--threads", "1", "--max-upload-mb", "1", "--max-queue", "50").start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Any]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def photo() -> bytes:
    return png_bytes("chelsea.jpg", 64)


@pytest.fixture(scope="module")
def painting() -> bytes:
    return png_bytes("wave.jpg", 48)


def job_files(server: Server) -> set:
    return {p.name for p in (server.data / "jobs").iterdir()}


# -- the three methods -----------------------------------------------------------


@pytest.mark.parametrize("method", ["stylize", "arbitrary", "transfer"])
def test_each_method_paints_a_result(client: Any, photo: bytes, painting: bytes, method: str) -> None:
    kwargs: dict = {
        "stylize": dict(model="wave", config={"size": 48}),
        "arbitrary": dict(styles=[painting], config={"size": 48, "alpha": 0.8}),
        "transfer": dict(styles=[painting], config=SHORT_TRANSFER),
    }[method]
    response = submit(client, method, photo, **kwargs)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) >= {"id", "status"} and body["status"] == "queued"
    assert response.headers["location"] == f"/api/jobs/{body['id']}"
    job = wait_for(client, body["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["seconds"] > 0 and job["started"] >= job["created"]
    assert job["method"] == method and job["inputs"]["content"] == "photo.png"
    for fmt, media, pil in [("png", "image/png", "PNG"), ("jpeg", "image/jpeg", "JPEG"), ("webp", "image/webp", "WEBP")]:
        r = client.get(f"/api/jobs/{body['id']}/result", params={"format": fmt})
        assert r.status_code == 200 and r.headers["content-type"] == media
        assert r.headers["x-content-type-options"] == "nosniff"
        img = decode(r.content)
        assert img.format == pil and list(img.size) == job["size"] and max(img.size) in (32, 48)
    download = client.get(f"/api/jobs/{body['id']}/result", params={"download": "true"})
    assert download.headers["content-disposition"] == f'attachment; filename="painterly-{body["id"]}.png"'
    assert decode(client.get(f"/api/jobs/{body['id']}/thumbnail").content).format == "JPEG"
    assert decode(client.get(f"/api/jobs/{body['id']}/content").content).size == (64, 43)


def test_sync_stylize_answers_the_image(client: Any, photo: bytes, painting: bytes) -> None:
    r = client.post("/api/stylize", params={"format": "jpeg"}, files={"content": ("p.png", photo, "image/png")},
                    data={"model": "udnie", "config": json.dumps({"size": 40})})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg" and max(decode(r.content).size) == 40
    r = client.post("/api/stylize", files=[("content", ("p.png", photo, "image/png")),
                                           ("style", ("s.png", painting, "image/png"))])
    assert r.status_code == 200 and decode(r.content).size == (64, 43)
    r = client.post("/api/stylize", files={"content": ("p.png", photo, "image/png")}, data={"method": "transfer"})
    assert r.status_code == 422 and r.json()["field"] == "method"


# -- validation before queueing ----------------------------------------------------


@pytest.mark.parametrize("method,model,config,styles,field", [
    ("stylize", "wave", {"size": "big"}, 0, "size"),
    ("stylize", "wave", {"size": 5}, 0, "size"),
    ("stylize", "wave", {"strength": 2}, 0, "strength"),
    ("stylize", "wave", {"sise": 64}, 0, "sise"),
    ("stylize", "wave", {"device": "cuda"}, 0, "device"),
    ("stylize", "wave", {"preserve_color": "sepia"}, 0, "preserve_color"),
    ("stylize", "wav", None, 0, "model"),
    ("stylize", None, None, 0, "model"),
    ("stylize", "../../etc/passwd", None, 0, "model"),
    ("paint", None, None, 0, "method"),
    ("arbitrary", None, {"size": 64}, 0, "style"),
    ("arbitrary", None, {"style_images": ["/etc/passwd"]}, 1, "style_images"),
    ("transfer", None, {"init": "/etc/passwd"}, 1, "init"),
    ("transfer", None, {"iterations": -1}, 1, "iterations"),
    ("transfer", None, {"optimizer": "sgd"}, 1, "optimizer"),
    ("transfer", None, {"style_blend": [1, 2, 3]}, 1, "style_blend"),
])
def test_bad_request_is_422_naming_the_field(client: Any, server: Server, photo: bytes, painting: bytes,
                                             method: str, model: Any, config: Any, styles: int, field: str) -> None:
    before = job_files(server)
    r = submit(client, method, photo, model=model, config=config, styles=[painting] * styles)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field and field.split("_")[0] in body["error"]
    assert job_files(server) == before  # nothing stored for a refused job


def test_config_must_be_a_json_object(client: Any, photo: bytes) -> None:
    for text in ("[1, 2]", "{not json"):
        r = client.post("/api/jobs", files={"content": ("p.png", photo, "image/png")},
                        data={"method": "stylize", "model": "wave", "config": text})
        assert r.status_code == 422 and r.json()["field"] == "config"
    r = client.post("/api/jobs", data={"method": "stylize", "model": "wave"})
    assert r.status_code == 422 and r.json()["field"] == "content"


# -- hostile uploads -------------------------------------------------------------------


def _truncated(photo: bytes) -> bytes:
    return photo[: len(photo) // 2]


HOSTILE = {
    "text": (b"hello, I am not an image\n" * 10, "photo.png", "image/png", 415),
    "svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
            "photo.png", "image/png", 415),
    "html": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "photo.jpg", "image/jpeg", 415),
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "photo.png", "image/png", 415),
    "zero-bytes": (b"", "photo.png", "image/png", 400),
    "bomb-header": (png_header_bomb(), "bomb.png", "image/png", 413),
    "zero-pixels": (png_header_bomb(0, 10), "empty.png", "image/png", 400),
    "path-name": (None, "../../../../tmp/evil.png", "image/png", 202),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_is_refused_with_json(client: Any, server: Server, photo: bytes, case: str) -> None:
    data, name, media, status = HOSTILE[case]
    before = job_files(server)
    r = submit(client, "stylize", photo if data is None else data, model="wave", config={"size": 32},
               content_name=name, content_type=media)
    assert r.status_code == status, r.text
    if status == 202:  # a hostile name is only a label: the file is stored under a name the server chose
        job = wait_for(client, r.json()["id"])
        assert job["status"] == "done" and job["inputs"]["content"] == "evil.png"
        assert not Path("/tmp/evil.png").exists() or Path("/tmp/evil.png").stat().st_mtime < job["created"]
        assert sorted(p.name for p in (server.data / "jobs" / job["id"]).iterdir())[0].startswith("content.")
        return
    body = r.json()
    assert body["field"] == "content" and body["error"].startswith("content:")
    assert job_files(server) == before
    assert client.get("/api/health").json()["ok"]


def test_truncated_and_wrong_extension(client: Any, photo: bytes) -> None:
    r = submit(client, "stylize", _truncated(photo), model="wave")
    assert r.status_code == 400 and "truncated or corrupt" in r.json()["error"]
    # A real PNG called .jpg with a JPEG type is judged by its bytes, and accepted.
    r = submit(client, "stylize", photo, model="wave", config={"size": 32}, content_name="x.jpg",
               content_type="image/jpeg")
    assert r.status_code == 202


def test_oversize_upload_is_413_with_and_without_length(client: Any, server: Server, photo: bytes) -> None:
    big = photo + os.urandom(1_400_000)  # over --max-upload-mb 1
    r = submit(client, "stylize", big, model="wave")
    assert r.status_code == 413 and "upload limit" in r.json()["error"]

    boundary = "paintrlyboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nstylize\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwave\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield head
        for _ in range(40):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        r = client.post("/api/jobs", content=chunks(),
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413, r.text
        assert "upload limit" in r.json()["error"]
    except httpx.WriteError:  # the server may close before the client finished sending: refused all the same
        pass
    assert client.get("/api/health").json()["ok"]


def test_mutated_uploads_never_500(client: Any, photo: bytes) -> None:
    rng = random.Random(14)
    seeds = [photo, png_bytes("wave.jpg", 40)]
    with decode(photo) as img:
        buf = io.BytesIO()
        img.save(buf, format="JPEG")
        seeds.append(buf.getvalue())
    accepted = []
    for _ in range(HTTP_FUZZ):
        data = mutated(rng, seeds, edits=6, max_cut=64, max_insert=32)
        r = submit(client, "stylize", data, model="wave", config={"size": 32})
        assert r.status_code in (202, 400, 413, 415), r.text
        assert "error" in r.json() or r.status_code == 202
        if r.status_code == 202:
            accepted.append(r.json()["id"])
    for job_id in accepted:  # what passed the checks paints or fails cleanly; no worker dies
        assert wait_for(client, job_id)["status"] in ("done", "failed")
    assert client.get("/api/health").json()["ok"]


# -- events, cancel, listing --------------------------------------------------------


def test_events_stream_and_last_event_id_replay(client: Any, photo: bytes, painting: bytes) -> None:
    job_id = submit(client, "transfer", photo, styles=[painting], config=SHORT_TRANSFER).json()["id"]
    events = read_events(client, job_id)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "status" and events[0]["data"]["status"] == "queued"
    assert events[-1]["event"] == "status" and events[-1]["data"]["status"] == "done"
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["fraction"] == 1.0
    assert all(0 <= p["fraction"] <= 1 for p in progress)
    assert [p["step"] for p in progress] == sorted(p["step"] for p in progress)
    # A client that saw the first three events reconnects and gets exactly the rest.
    replay = read_events(client, job_id, last_event_id=3)
    assert replay == events[3:]
    # One that already had the final event gets it again, and the stream ends.
    assert read_events(client, job_id, last_event_id=events[-1]["id"]) == events[-1:]
    r = client.get("/api/jobs/0123456789abcdef/events")
    assert r.status_code == 404


def test_cancel_one_running_optimization_keeps_the_others(client: Any, photo: bytes, painting: bytes) -> None:
    a = submit(client, "transfer", photo, styles=[painting], config=LONG_TRANSFER).json()["id"]
    b = submit(client, "transfer", photo, styles=[painting], config=dict(LONG_TRANSFER, iterations=40)).json()["id"]
    c = submit(client, "stylize", photo, model="shipwreck", config={"size": 32}).json()["id"]
    wait_for(client, a, ("running",), progress=0.0)
    wait_for(client, b, ("running",), progress=0.0)
    preview = client.get(f"/api/jobs/{a}/preview")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert max(decode(preview.content).size) == 48
    r = client.post(f"/api/jobs/{a}/cancel")
    assert r.status_code == 200 and r.json() == {"id": a, "status": "running"}
    job_a = wait_for(client, a, timeout=30)
    assert job_a["status"] == "cancelled" and 0 < job_a["progress"] < 1
    # The best picture so far is kept as the result.
    assert decode(client.get(f"/api/jobs/{a}/result").content).size == (48, 32)
    assert client.get(f"/api/jobs/{b}").json()["status"] in ("running", "done")
    assert wait_for(client, b)["status"] == "done"
    assert wait_for(client, c)["status"] == "done"
    # Cancelling a finished job changes nothing; an unknown id is 404.
    assert client.post(f"/api/jobs/{b}/cancel").json()["status"] == "done"
    assert client.post("/api/jobs/ffffffffffffffff/cancel").status_code == 404
    assert client.post("/api/jobs/..%2F..%2Fetc/cancel").status_code == 404


def test_cancel_a_queued_job_by_delete(client: Any, photo: bytes, painting: bytes) -> None:
    running = [submit(client, "transfer", photo, styles=[painting], config=LONG_TRANSFER).json()["id"]
               for _ in range(2)]
    queued = submit(client, "stylize", photo, model="wave").json()["id"]
    assert client.get(f"/api/jobs/{queued}").json()["status"] == "queued"
    r = client.delete(f"/api/jobs/{queued}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and not r.json()["deleted"]
    assert client.get(f"/api/jobs/{queued}").json()["status"] == "cancelled"
    for job_id in running:
        client.delete(f"/api/jobs/{job_id}")
        assert wait_for(client, job_id, timeout=30)["status"] == "cancelled"


def test_list_is_newest_first_and_paged_and_delete_removes_files(client: Any, server: Server, photo: bytes) -> None:
    ids = [submit(client, "stylize", photo, model="udnie", config={"size": 32}).json()["id"] for _ in range(3)]
    for job_id in ids:
        wait_for(client, job_id)
    page = client.get("/api/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2] and page["total"] >= 3
    page2 = client.get("/api/jobs", params={"limit": 2, "offset": 1}).json()
    assert page2["jobs"][0]["id"] == ids[1]
    assert client.get("/api/jobs", params={"limit": 1000}).status_code == 422
    assert client.get("/api/jobs", params={"status": "done", "limit": 1}).json()["jobs"][0]["status"] == "done"
    r = client.delete(f"/api/jobs/{ids[0]}")
    assert r.status_code == 200 and r.json()["deleted"]
    assert client.get(f"/api/jobs/{ids[0]}").status_code == 404
    assert not (server.data / "jobs" / ids[0]).exists()
    assert client.delete(f"/api/jobs/{ids[0]}").status_code == 404


# -- models, page, docs, headers ---------------------------------------------------------


def test_models_with_samples(client: Any) -> None:
    body = client.get("/api/models").json()
    names = [m["name"] for m in body["models"]]
    assert "wave" in names and "starry_night" in names and "adain" not in names
    assert body["arbitrary_models"] == ["adain"]
    wave = next(m for m in body["models"] if m["name"] == "wave")
    r = client.get(wave["sample"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert max(decode(r.content).size) == 192
    assert client.get("/api/models/nope/sample").status_code == 404
    schema = client.get("/api/schema").json()
    assert {f["name"] for f in schema["transfer"]} >= {"size", "style_weight", "iterations", "preserve_color"}
    assert "device" not in {f["name"] for f in schema["stylize"]}
    assert "alpha" not in {f["name"] for f in schema["stylize"]} and "alpha" in {f["name"] for f in schema["arbitrary"]}


def test_page_and_docs_are_local_with_security_headers(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'name="viewport"' in page.text and "http" not in page.text.replace("http-equiv", "")
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "https://" not in docs.text
    for ref in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css", "/static/docs.js"):
        assert ref in docs.text and client.get(ref).status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/jobs" in spec["paths"] and "multipart/form-data" in json.dumps(spec["paths"]["/api/jobs"]["post"])
    assert client.get("/api/jobs/not-an-id").json()["error"].startswith("no job")
