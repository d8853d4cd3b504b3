"""The FastAPI app: the page, the JSON API, event streams and files.

:func:`create_app` wires the pieces: the SQLite :class:`~.store.JobStore`, the
:class:`~.worker.WorkerPool` that paints through :mod:`painterly.jobs`, the
:class:`~.guard.Guard` (headers, token, body limit) and the static page.
Every error a client can cause is a 4xx JSON ``{"error": ..., "field": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional, Set

from ..errors import require
from .errors import ApiError
from .images import RESULT_FORMATS, PreviewCache, model_sample, result_as, thumbnail
from .requests import MAX_STYLES, build_config, cache_key, check_request, parse_settings, schema
from .store import FINAL, Job, JobStore, new_id, valid_id
from .uploads import FORMATS, store_upload
from .worker import RESULT_NAME, WorkerPool

require("fastapi", "serve")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

from .guard import Guard  # noqa: E402

log = logging.getLogger("painterly.service")

STATIC = Path(__file__).resolve().parent / "static"

#: Seconds between keep-alive comments on an idle event stream (proxies close silent ones).
KEEPALIVE = 15.0


@dataclass(frozen=True)
class Settings:
    """How the service runs (``painterly serve`` options).

    Attributes:
        data_dir: job store and files.
        workers: jobs painted at the same time.
        max_upload_bytes: largest request body (and file).
        max_queued: queued jobs beyond which submissions get 429.
        max_pixels: largest upload in pixels (checked before decoding).
        token: when set, the API needs ``Authorization: Bearer <token>``.
        cors: origins allowed to call the API from other pages.
        threads: CPU threads per job (0: cores / workers).
    """

    data_dir: Path
    workers: int = 1
    max_upload_bytes: int = 50 << 20
    max_queued: int = 100
    max_pixels: int = 40_000_000
    token: str = ""
    cors: tuple = ()
    threads: int = 0


class _Hub:
    """Wakes event streams of a job when the worker adds an event; safe to call from any thread."""

    def __init__(self) -> None:
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._subscribers: Dict[str, Set[asyncio.Event]] = {}

    def subscribe(self, job_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._subscribers.setdefault(job_id, set()).add(event)
        return event

    def unsubscribe(self, job_id: str, event: asyncio.Event) -> None:
        subs = self._subscribers.get(job_id)
        if subs is not None:
            subs.discard(event)
            if not subs:
                self._subscribers.pop(job_id, None)

    def _wake(self, job_id: str) -> None:
        for event in list(self._subscribers.get(job_id, ())):
            event.set()

    def publish(self, job_id: str) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake, job_id)
            except RuntimeError:  # the loop closed between the check and the call
                pass


def _threads_per_job(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class Service:
    """The state behind the routes: store, pool, caches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = JobStore(settings.data_dir)
        self.hub = _Hub()
        self.threads = settings.threads or _threads_per_job(settings.workers)
        self.pool = WorkerPool(self.store, settings.workers, self.threads, notify=self.hub.publish)
        self.previews = PreviewCache()
        self.samples_dir = settings.data_dir / "samples"
        self.tmp_dir = settings.data_dir / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._sync_slots = threading.BoundedSemaphore(max(1, settings.workers))
        self._sync_painters = threading.local()

    # -- life ----------------------------------------------------------------

    def start(self) -> None:
        # Leftovers of synchronous requests cut short by a dead server.
        for leftover in self.tmp_dir.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
        self._clean_orphans()
        requeued = self.store.recover()
        if requeued:
            log.info("re-queued %d job(s) that were running when the server stopped", len(requeued))
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()

    def _clean_orphans(self) -> None:
        """Job folders without a row: a submit that died between storing files and queueing."""
        known = set(self.store.iter_ids())
        for folder in self.store.jobs_dir.iterdir():
            if folder.is_dir() and folder.name not in known and valid_id(folder.name):
                shutil.rmtree(folder, ignore_errors=True)

    # -- models --------------------------------------------------------------

    def models(self) -> List[Any]:
        from ..jobs.api import list_models

        return list_models()

    def feedforward_models(self) -> List[Any]:
        return [m for m in self.models() if m.kind == "feedforward"]

    # -- jobs ----------------------------------------------------------------

    def job_json(self, job: Job) -> Dict[str, Any]:
        base = f"/api/jobs/{job.id}"
        out: Dict[str, Any] = {
            "id": job.id,
            "status": job.status,
            "method": job.method,
            "model": job.model,
            "progress": round(job.progress, 4),
            "error": job.error,
            "created": job.created,
            "started": job.started,
            "finished": job.finished,
            "seconds": job.seconds,
            "queue_seconds": (job.started - job.created) if job.started else None,
            "attempts": job.attempts,
            "size": [job.width, job.height] if job.width else None,
            "detail": job.detail,
            "config": job.config,
            "inputs": {"content": job.files.get("content_name", ""), "styles": job.files.get("style_names", [])},
            "urls": {
                "self": base,
                "events": f"{base}/events",
                "content": f"{base}/content",
                "thumbnail": f"{base}/thumbnail",
                "preview": f"{base}/preview",
                "result": f"{base}/result" if job.result else None,
            },
        }
        if job.status == "running":
            event = self.pool.live.get(job.id)
            if event is not None:
                out["progress"] = round(event.fraction, 4)
                out["eta"] = event.eta
                out["step"], out["total"] = event.step, event.total
                out["has_preview"] = event.snapshot is not None
        return out

    def get_job(self, job_id: str) -> Job:
        job = self.store.get(job_id) if valid_id(job_id) else None
        if job is None:
            raise ApiError(404, f"no job with id '{job_id[:40]}'", field="id")
        return job

    def submit(self, method: Optional[str], model: Optional[str], settings_text: Optional[str],
               content: Any, styles: List[Any]) -> Job:
        request = check_request(method, model, parse_settings(settings_text), len(styles))
        if content is None:
            raise ApiError(422, "content: send the photo as a file part named 'content'", field="content")
        self._check_room()
        job_id = new_id()
        folder = self.store.job_dir(job_id)
        try:
            stored = self._store_images(folder, content, styles)
            files = {
                "content": stored[0].path.name,
                "styles": [s.path.name for s in stored[1:]],
                "content_name": stored[0].name,
                "style_names": [s.name for s in stored[1:]],
            }
            job = self.store.add(job_id, request.method, request.model, request.config, files,
                                 max_queued=self.settings.max_queued)
            if job is None:
                raise self._full()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.pool.wake()
        return job

    def _store_images(self, folder: Path, content: Any, styles: List[Any]) -> List[Any]:
        limits = dict(max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_pixels)
        stored = [store_upload(content.file, folder / "content", field="content",
                               client_name=content.filename, **limits)]
        for i, style in enumerate(styles):
            stored.append(store_upload(style.file, folder / f"style-{i}", field=f"style[{i}]",
                                       client_name=style.filename, **limits))
        return stored

    def _check_room(self) -> None:
        if self.settings.max_queued > 0 and self.store.count("queued") >= self.settings.max_queued:
            raise self._full()

    def _full(self) -> ApiError:
        queued = self.store.count("queued")
        # Room for one more job opens when the next running job ends: about one
        # job's time spread over the workers.
        per_job = self.store.mean_seconds() or 5.0
        wait = max(1, math.ceil(per_job / self.settings.workers))
        return ApiError(429, f"the queue is full ({queued} jobs waiting); try again in {wait} s",
                        headers={"Retry-After": str(wait)})

    # -- synchronous one-pass ------------------------------------------------

    def _sync_painter(self, request: Any, styles: List[Path]) -> Any:
        """A painter for a synchronous request; a model painter stays loaded per thread for the next one."""
        from ..errors import PainterlyError
        from ..jobs.painters import make_painter

        key = cache_key(request.method, request.config, ())
        cache = getattr(self._sync_painters, "cache", None)
        if cache is None:
            cache = self._sync_painters.cache = {}
        if not styles and key in cache:
            return cache[key]
        try:
            painter = make_painter(request.method, build_config(request.method, request.config, self.threads),
                                   styles=[str(p) for p in styles])
        except PainterlyError as exc:
            raise ApiError(422, f"cannot load the {request.method} painter: {exc}",
                           field="style" if styles else "model") from None
        if not styles:
            cache.clear()
            cache[key] = painter
        return painter

    def stylize_now(self, method: Optional[str], model: Optional[str], settings_text: Optional[str],
                    content: Any, styles: List[Any]) -> Path:
        from ..jobs.run import paint_one

        method = method or ("arbitrary" if styles else "stylize")
        if method == "transfer":
            raise ApiError(422, "POST /api/stylize runs the one-pass methods (stylize, arbitrary); queue "
                           "optimization with POST /api/jobs", field="method", choices=["stylize", "arbitrary"])
        request = check_request(method, model, parse_settings(settings_text), len(styles))
        if content is None:
            raise ApiError(422, "content: send the photo as a file part named 'content'", field="content")
        if not self._sync_slots.acquire(timeout=30):
            raise ApiError(429, "the server is busy; try again shortly", headers={"Retry-After": "5"})
        folder = Path(tempfile.mkdtemp(dir=self.tmp_dir))
        try:
            stored = self._store_images(folder, content, styles)
            painter = self._sync_painter(request, [s.path for s in stored[1:]])
            item = paint_one(painter, stored[0].path, folder / RESULT_NAME)
            if item.status != "done" or not item.output:
                raise ApiError(400, f"cannot paint the image: {item.error}", field="content")
            keep = Path(tempfile.mkdtemp(dir=self.tmp_dir)) / RESULT_NAME
            shutil.move(item.output, keep)
            return keep
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self._sync_slots.release()


def _multipart_body(fields: Dict[str, Any]) -> Dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": fields, "required": ["content"]}}}}}


_JOB_FIELDS = {
    "content": {"type": "string", "format": "binary", "description": "the photo (JPEG, PNG, WebP, GIF, BMP, TIFF)"},
    "style": {"type": "array", "items": {"type": "string", "format": "binary"},
              "description": f"style images (paintings) for arbitrary and transfer; up to {MAX_STYLES}"},
    "method": {"type": "string", "enum": ["stylize", "arbitrary", "transfer"]},
    "model": {"type": "string", "description": "model name for stylize (see GET /api/models)"},
    "config": {"type": "string", "description": "JSON object of the method's settings (see GET /api/schema)"},
}


async def _read_form(request: Request) -> Any:
    return await request.form(max_files=1 + MAX_STYLES, max_fields=8, max_part_size=256 * 1024)


def _form_parts(form: Any) -> tuple:
    def text(name: str) -> Optional[str]:
        value = form.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError(422, f"{name} must be a text field, not a file", field=name)
        return value

    content = form.get("content")
    if content is not None and isinstance(content, str):
        raise ApiError(422, "content must be a file (multipart upload), not text", field="content")
    styles = form.getlist("style")
    for i, style in enumerate(styles):
        if isinstance(style, str):
            raise ApiError(422, f"style[{i}] must be a file (multipart upload), not text", field="style")
    return text("method"), text("model"), text("config"), content, styles


def create_app(settings: Settings) -> Any:
    """The ASGI app (FastAPI) for ``settings``; jobs start with the app's lifespan.

    Args:
        settings: see :class:`Settings`.
    """
    service = Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.hub.loop = asyncio.get_running_loop()
        service.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="painterly",
        description="Paint photos in the style of paintings: a queue of jobs with progress events.",
        docs_url=None, redoc_url=None, lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}", "field": where}, status_code=422)

    # -- page and docs -------------------------------------------------------

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    docs_assets = _swagger_assets()
    if docs_assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=str(docs_assets)), name="docs-assets")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if docs_assets is None:
            return HTMLResponse(
                "<!doctype html><title>painterly API</title><p>The interactive docs need the "
                "<code>fastapi-offline</code> package (pip install 'painterly[serve]'); the schema is at "
                "<a href='/openapi.json'>/openapi.json</a>.</p>")
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>painterly API</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<link rel='stylesheet' href='/docs-assets/swagger-ui.css'></head><body><div id='swagger-ui'></div>"
            "<script src='/docs-assets/swagger-ui-bundle.js'></script><script src='/static/docs.js'></script>"
            "</body></html>")

    # -- API -----------------------------------------------------------------

    @app.get("/api/health", tags=["service"])
    def health() -> Dict[str, Any]:
        """Liveness and queue length (open without the token)."""
        from ..cli.main import version

        return {"ok": True, "version": version(), "workers": settings.workers,
                "queued": service.store.count("queued"), "running": len(service.pool.running()),
                "auth": bool(settings.token)}

    @app.get("/api/models", tags=["models"])
    def models() -> Dict[str, Any]:
        """The trained models (for ``stylize``) with their styles and sample pictures, and the AdaIN models."""
        out, adain = [], []
        for info in service.models():
            if info.kind == "feedforward":
                out.append({"name": info.name, "styles": list(info.styles) or [info.name],
                            "architecture": info.architecture,
                            "sample": f"/api/models/{info.name}/sample"})
            elif info.kind == "adain":
                adain.append(info.name)
        return {"models": out, "arbitrary_models": adain, "methods": ["stylize", "arbitrary", "transfer"],
                "limits": {"max_upload_bytes": settings.max_upload_bytes, "max_pixels": settings.max_pixels,
                           "max_styles": MAX_STYLES, "max_queued": settings.max_queued}}

    @app.get("/api/models/{name}/sample", tags=["models"], response_class=FileResponse)
    def sample(name: str) -> FileResponse:
        """The bundled astronaut photo painted by this model (small JPEG, painted once and cached)."""
        info = next((m for m in service.feedforward_models() if m.name == name), None)
        if info is None:
            raise ApiError(404, f"no model named '{name[:60]}'", field="name")
        try:
            path = model_sample(info.name, info.path, service.samples_dir)
        except Exception as exc:  # noqa: BLE001
            raise ApiError(500, f"cannot paint the sample of {name}: {exc}") from None
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/api/schema", tags=["models"])
    def settings_schema() -> Dict[str, Any]:
        """Each method's settings with defaults, types, help and choices (what the page's form is built from)."""
        return schema()

    @app.post("/api/jobs", status_code=202, tags=["jobs"], openapi_extra=_multipart_body(_JOB_FIELDS))
    async def submit(request: Request) -> JSONResponse:
        """Queue a job. Answers 202 with ``{"id", "status"}``; 422 names a bad field; 429 when the queue is full."""
        form = await _read_form(request)
        try:
            parts = _form_parts(form)
            job = await run_in_threadpool(service.submit, *parts)
        finally:
            await form.close()
        return JSONResponse({"id": job.id, "status": job.status, "url": f"/api/jobs/{job.id}"}, status_code=202,
                            headers={"Location": f"/api/jobs/{job.id}"})

    @app.get("/api/jobs", tags=["jobs"])
    def list_jobs(offset: int = 0, limit: int = 20, status: Optional[str] = None) -> Dict[str, Any]:
        """Jobs newest first, ``limit`` (1-100) from ``offset``; optionally of one ``status``."""
        if status is not None and status not in ("queued", "running", "done", "failed", "cancelled"):
            raise ApiError(422, f"status must be queued, running, done, failed or cancelled, not '{status[:40]}'",
                           field="status")
        if not 1 <= limit <= 100:
            raise ApiError(422, f"limit must be between 1 and 100, not {limit}", field="limit")
        if offset < 0:
            raise ApiError(422, f"offset must be >= 0, not {offset}", field="offset")
        jobs, total = service.store.list(offset, limit, status)
        return {"jobs": [service.job_json(j) for j in jobs], "total": total, "offset": offset, "limit": limit}

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    async def get_job(job_id: str) -> Dict[str, Any]:
        """One job: status (queued, running, done, failed, cancelled), progress 0..1, error, timings, config."""
        # On the event loop: one indexed SQLite read (WAL: never waits for a writer) is cheaper
        # than the hop to a worker thread, which under load waits for the GIL.
        return service.job_json(service.get_job(job_id))

    @app.get("/api/jobs/{job_id}/events", tags=["jobs"], response_class=StreamingResponse)
    async def events(job_id: str, request: Request) -> StreamingResponse:
        """Server-Sent Events: every event of the job (``status`` and ``progress``) from the one after
        ``Last-Event-ID`` (header or ``?last_event_id=``), ending with the final status."""
        await run_in_threadpool(service.get_job, job_id)
        last = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
        after = int(last) if last.strip().isdigit() else 0
        return StreamingResponse(_stream(service, job_id, after), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/jobs/{job_id}/preview", tags=["jobs"], response_class=Response)
    def preview(job_id: str) -> Response:
        """The picture so far of a running optimization job (JPEG, encoded on request); the result once done."""
        job = service.get_job(job_id)
        event = service.pool.live.get(job_id)
        if job.status == "running" and event is not None:
            data = service.previews.get(job_id, event)
            if data is not None:
                return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
        service.previews.drop(job_id)
        if job.result:
            path = service.store.job_dir(job_id) / job.result
            if path.is_file():
                return FileResponse(thumbnail(path, path.with_name("preview.jpg")), media_type="image/jpeg",
                                    headers={"Cache-Control": "no-store"})
        raise ApiError(404, "no preview yet: optimization jobs show one once they run", field="id")

    @app.get("/api/jobs/{job_id}/result", tags=["jobs"], response_class=FileResponse)
    def result(job_id: str, format: str = "png", download: bool = False) -> FileResponse:
        """The painted image as ``png``, ``jpeg`` or ``webp`` (``download=true`` for an attachment)."""
        fmt = format.lower()
        if fmt not in RESULT_FORMATS:
            raise ApiError(422, f"format must be png, jpeg or webp, not '{format[:20]}'", field="format",
                           choices=["png", "jpeg", "webp"])
        job = service.get_job(job_id)
        path = service.store.job_dir(job_id) / job.result if job.result else None
        if path is None or not path.is_file():
            raise ApiError(404 if job.status in FINAL else 409,
                           f"job {job_id} has no result ({job.status})", field="id")
        path, media = result_as(path, fmt)
        name = f"painterly-{job_id}{RESULT_FORMATS[fmt][2]}"
        return FileResponse(path, media_type=media, headers={
            "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{name}"',
            "Cache-Control": "private, max-age=3600"})

    @app.get("/api/jobs/{job_id}/thumbnail", tags=["jobs"], response_class=FileResponse)
    def job_thumbnail(job_id: str) -> FileResponse:
        """A small JPEG of the result (of the photo while there is none)."""
        job = service.get_job(job_id)
        folder = service.store.job_dir(job_id)
        source = folder / job.result if job.result and (folder / job.result).is_file() else folder / job.files["content"]
        if not source.is_file():
            raise ApiError(404, f"job {job_id} has no picture", field="id")
        name = "thumb-result.jpg" if source.name == job.result else "thumb-content.jpg"
        return FileResponse(thumbnail(source, folder / name), media_type="image/jpeg",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/api/jobs/{job_id}/content", tags=["jobs"], response_class=FileResponse)
    def job_content(job_id: str) -> FileResponse:
        """The uploaded photo (formats a browser cannot show come as PNG)."""
        job = service.get_job(job_id)
        path = service.store.job_dir(job_id) / job.files["content"]
        if not path.is_file():
            raise ApiError(404, f"job {job_id} has no photo", field="id")
        if path.suffix.lower() in (".tif", ".bmp"):
            path, media = result_as(path, "png")
        else:
            media = next(m for ext, m in FORMATS.values() if ext == path.suffix.lower())
        return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel(job_id: str) -> Dict[str, Any]:
        """Cancel this job (by id, never another): a queued one at once, a running one within one
        iteration or tile (optimization keeps its best picture so far)."""
        service.get_job(job_id)
        status = service.pool.cancel(job_id)
        return {"id": job_id, "status": status}

    @app.delete("/api/jobs/{job_id}", tags=["jobs"])
    def delete(job_id: str) -> Dict[str, Any]:
        """Cancel a queued or running job; delete a finished one with its files."""
        job = service.get_job(job_id)
        if job.status not in FINAL:
            return {"id": job_id, "status": service.pool.cancel(job_id), "deleted": False}
        if not service.store.delete(job_id):
            raise ApiError(409, f"job {job_id} changed while being deleted; try again", field="id")
        service.previews.drop(job_id)
        service.hub.publish(job_id)
        return {"id": job_id, "status": "deleted", "deleted": True}

    @app.post("/api/stylize", tags=["one-pass"], response_class=Response,
              openapi_extra=_multipart_body({k: v for k, v in _JOB_FIELDS.items()}))
    async def stylize_now(request: Request, format: str = "png") -> Response:
        """Paint one photo now with a one-pass method (a model, or any painting with ``style``) and answer the image."""
        fmt = format.lower()
        if fmt not in RESULT_FORMATS:
            raise ApiError(422, f"format must be png, jpeg or webp, not '{format[:20]}'", field="format")
        form = await _read_form(request)
        try:
            parts = _form_parts(form)
            path = await run_in_threadpool(service.stylize_now, *parts)
        finally:
            await form.close()
        try:
            out, media = result_as(path, fmt)
            data = out.read_bytes()
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        return Response(data, media_type=media)

    wrapped = Guard(app, token=settings.token, max_body=settings.max_upload_bytes + 256 * 1024,
                    shown_limit=settings.max_upload_bytes)
    if settings.cors:
        from starlette.middleware.cors import CORSMiddleware

        wrapped = CORSMiddleware(wrapped, allow_origins=list(settings.cors), allow_methods=["GET", "POST", "DELETE"],
                                 allow_headers=["Authorization", "Last-Event-ID", "Content-Type"])
    # The guard and CORS wrap the whole app (outside FastAPI's own stack), so the
    # lifespan still reaches FastAPI through them.
    wrapped.state = app.state  # type: ignore[attr-defined]
    wrapped.fastapi = app  # type: ignore[attr-defined]
    return wrapped


async def _stream(service: Service, job_id: str, after: int) -> AsyncIterator[str]:
    """The SSE body: stored events after ``after``, then new ones as the worker adds them."""
    wake = service.hub.subscribe(job_id)
    try:
        yield "retry: 1000\n\n"
        while True:
            wake.clear()
            rows = await run_in_threadpool(service.store.events, job_id, after)
            for seq, name, data in rows:
                after = seq
                yield f"id: {seq}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
                if name == "status" and data.get("status") in FINAL:
                    return
            if not rows:
                job = await run_in_threadpool(service.store.get, job_id)
                if job is None:
                    yield "event: status\ndata: {\"status\": \"deleted\"}\n\n"
                    return
                if job.status in FINAL:
                    # The client already had the final event (Last-Event-ID past it): say it
                    # again rather than leave the stream open for ever.
                    final = [e for e in await run_in_threadpool(service.store.events, job_id, 0) if e[1] == "status"]
                    if final:
                        seq, name, data = final[-1]
                        yield f"id: {seq}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
                    return
            try:
                await asyncio.wait_for(wake.wait(), timeout=KEEPALIVE)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        service.hub.unsubscribe(job_id, wake)


def _swagger_assets() -> Optional[Path]:
    """Swagger UI's files from the ``fastapi-offline`` package, so /docs needs no CDN; None when absent."""
    try:
        import fastapi_offline  # type: ignore[import-not-found]
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


__all__ = ["Service", "Settings", "create_app"]
