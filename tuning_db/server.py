"""The lookup service over HTTP (FastAPI): lookups for compilers and fleets, read-only unless
started with a token, JSON errors, /health, Prometheus /metrics and an OpenAPI description."""

from __future__ import annotations

import hmac
import json
import time
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from search_spaces import OPS, ShapeError, Target, Workload
from tuning_db import bundle
from tuning_db.lookup import NotTuned, UnknownDevice, lookup_json
from tuning_db.maintenance import stats
from tuning_db.schema import head
from tuning_db.store import TuningDB

MAX_BODY = 16 << 20  # bytes; larger request bodies get 413
MAX_QUERY = 2048  # characters of one query parameter


LOOKUP_PARAMETERS = [
    {"name": "op", "in": "query", "required": True, "schema": {"type": "string"},
     "description": f"one of: {', '.join(sorted(OPS))}"},
    {"name": "shape", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "NAME=V,...[,layout=L] as in OPERATORS.md"},
    {"name": "device", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "device name, e.g. h100"},
    {"name": "exact", "in": "query", "required": False,
     "schema": {"type": "boolean", "default": False}, "description": "no fallbacks"},
]  # fmt: skip


class ApiError(Exception):
    """An error answered as JSON: {"error": {"code": ..., "message": ...}}."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tune_http_requests", "HTTP requests answered", ["path", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.seconds = Histogram(
            "tune_http_request_seconds", "Time to answer a request", ["path"],
            buckets=(1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 0.05, 0.25, 1.0),
            registry=self.registry,
        )  # fmt: skip
        self.lookups = Counter(
            "tune_lookups", "Lookups answered, by match", ["match"], registry=self.registry
        )
        self.writes = Counter(
            "tune_trials_written", "Trials added through the API", registry=self.registry
        )


def create_app(
    db: str | TuningDB,
    *,
    token: str | None = None,
    targets: dict[str, Target] | None = None,
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The service over the database `db` (a URL or path, or an open TuningDB). Without
    `token` it is read-only; with one, writes need `Authorization: Bearer <token>`.
    `targets` describes devices the database may not hold (for fallback lookups)."""
    store = db if isinstance(db, TuningDB) else TuningDB(db)
    metrics = _Metrics()
    app = FastAPI(
        title="tune: tuning database service",
        version=head(),
        description=(
            "Lookups of tuned kernels for compilers (`GET /lookup`), the database's "
            "devices and bests, and, when the server was started with a token, writes "
            "(`POST /trials`, `POST /import`) with `Authorization: Bearer <token>`. "
            'Errors are JSON: `{"error": {"code": ..., "message": ...}}`.'
        ),
    )
    app.state.db = store

    app.add_middleware(_Guard, metrics=metrics, max_body=max_body)

    @app.exception_handler(ApiError)
    async def _api_error(_request, e: ApiError):
        return _error(e.status, e.code, e.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request, e: StarletteHTTPException):
        return _error(e.status_code, "http", str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request, e: RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(x) for x in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in e.errors()
        )
        return _error(400, "bad_input", where[:1000])

    @app.exception_handler(Exception)
    async def _internal_error(_request, e: Exception):
        return _error(500, "internal", f"{type(e).__name__}")

    def _json(doc) -> Response:
        return Response(json.dumps(doc), media_type="application/json")

    @app.get("/health", summary="Liveness and the schema served")
    def health() -> dict:
        try:
            with store.engine.connect() as c:
                c.execute(text("SELECT 1"))
        except Exception as e:
            raise ApiError(503, "database_unavailable", type(e).__name__) from None
        from search_spaces import GENERATOR_VERSION

        return {
            "status": "ok", "schema": head(), "generator_version": GENERATOR_VERSION,
            "backend": store.backend, "writable": token is not None,
        }  # fmt: skip

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/lookup",
        summary="The kernel for a workload on a device",
        description=(
            "`match` says how the schedule was found: exact, nearest_shape, device_family or "
            "default. With exact=true, a workload never tuned on the device is a 404."
        ),
        openapi_extra={"parameters": LOOKUP_PARAMETERS},
    )
    async def get_lookup(request: Request):
        # Parameters are read here rather than declared: FastAPI's per-request validation
        # would cost more than the lookup itself. They are documented in LOOKUP_PARAMETERS.
        q = request.query_params
        missing = [p for p in ("op", "shape", "device") if p not in q]
        if missing:
            raise ApiError(400, "bad_input", f"missing query parameter(s): {', '.join(missing)}")
        op, shape, device = q["op"], q["shape"], q["device"]
        exact = q.get("exact", "false").lower()
        if exact not in ("true", "false", "1", "0"):
            raise ApiError(400, "bad_input", "exact must be true or false")
        exact = exact in ("true", "1")
        # async on purpose: an indexed query and a cached answer take well under a millisecond,
        # less than handing the call to a thread would
        workload = _workload(op, shape)
        try:
            answer = lookup_json(store, workload, device, targets=targets, fallback=not exact)
        except NotTuned as e:
            raise ApiError(404, "not_tuned", str(e)) from None
        except UnknownDevice as e:
            raise ApiError(404, "unknown_device", str(e)) from None
        metrics.lookups.labels(answer[11 : answer.index('"', 11)]).inc()  # {"match": "..."
        return Response(answer, media_type="application/json")

    @app.get("/devices", summary="The devices the database holds")
    def get_devices():
        return _json([bundle.device_json(d) for d in store.devices()])

    @app.get("/bests", summary="The best schedule of every workload on every device")
    def get_bests(op: str | None = None, device: str | None = None):
        return _json(
            [
                {"op": b.workload.op, "shape": b.workload.shape_text, "key": b.workload.key,
                 "device": b.device.name, "latency_us": b.latency_s * 1e6,
                 "gflops": b.gflops, "trial_id": b.trial_id, "schedule": b.schedule.to_json()}
                for b in store.bests(op=op, device=device)
            ]
        )  # fmt: skip

    @app.get("/stats", summary="Counts by table, status and generator version")
    def get_stats():
        return _json(stats(store))

    async def _body(request: Request) -> dict:
        _authorise(request, token)
        size, chunks = 0, []
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise ApiError(413, "too_large", f"request bodies are limited to {max_body} bytes")
            chunks.append(chunk)
        try:
            doc = json.loads(b"".join(chunks))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ApiError(400, "bad_json", f"the body is not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "bad_input", "the body must be a JSON object")
        return doc

    @app.post("/trials", summary="Add trials (needs the token)", status_code=201)
    async def post_trials(request: Request):
        doc = await _body(request)
        trials = doc.get("trials")
        if not isinstance(trials, list):
            raise ApiError(400, "bad_input", 'the body needs "trials": [...]')
        wrapped = {"format": bundle.FORMAT, "version": bundle.VERSION,
                   "devices": doc.get("devices", []), "jobs": [], "trials": trials}  # fmt: skip
        return _import(wrapped)

    @app.post("/import", summary="Import a bundle (needs the token)", status_code=201)
    async def post_import(request: Request):
        return _import(await _body(request))

    def _import(doc: dict) -> Response:
        try:
            result = bundle.import_bundle(store, doc)
        except bundle.BundleError as e:
            raise ApiError(400, "bad_input", str(e)) from None
        metrics.writes.inc(result.trials_added)
        out = {"added": result.trials_added, "skipped": result.trials_skipped}
        return Response(json.dumps(out), status_code=201, media_type="application/json")

    return app


class _Guard:
    """ASGI middleware: size limits before anything is read, and request metrics."""

    def __init__(self, app, metrics: _Metrics, max_body: int):
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        length = dict(scope["headers"]).get(b"content-length")
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            message = f"request bodies are limited to {self.max_body} bytes"
            await _error(413, "too_large", message)(scope, receive, send_status)
        elif any(len(v) > MAX_QUERY for _, v in query):
            message = f"query values are limited to {MAX_QUERY} characters"
            await _error(414, "too_long", message)(scope, receive, send_status)
        else:
            await self.app(scope, receive, send_status)
        route = scope.get("route")
        path = getattr(route, "path", "other")
        self.metrics.requests.labels(path, str(status)).inc()
        self.metrics.seconds.labels(path).observe(time.perf_counter() - start)


def _workload(op: str, shape: str) -> Workload:
    if op not in OPS:
        raise ApiError(400, "bad_input", f"unknown operator {op!r}; operators: {', '.join(OPS)}")
    try:
        return Workload.parse(op, shape)
    except ShapeError as e:
        raise ApiError(400, "bad_input", str(e)) from None


def _authorise(request: Request, token: str | None) -> None:
    if token is None:
        raise ApiError(403, "read_only", "this server is read-only (start it with --token)")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "unauthorized", "writes need 'Authorization: Bearer <token>'")
