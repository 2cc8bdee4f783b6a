"""The OTLP/HTTP trace receiver: `POST /v1/traces`, protobuf or JSON, gzip, never a 500."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import IngestError, Overloaded, PayloadTooLarge, StoreError
from ..metrics import Metrics
from ..runtime import Runtime
from ..traces.decode import JSON, PROTOBUF, BodyReader, media_type, response, status_body
from ..traces.ingest import IngestResult, Received, TraceService
from .otlp_schema import OTLP_JSON_REQUEST

log = logging.getLogger(__name__)

router = APIRouter(tags=["traces"])

# The body is read by hand (protobuf or JSON, maybe gzip); the schemas here are the OTLP/HTTP wire formats.
_REQUEST = {
    "required": True,
    "description": "An ExportTraceServiceRequest (gzip allowed with Content-Encoding)",
    "content": {
        JSON: {"schema": OTLP_JSON_REQUEST},
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
    },
}
_PARTIAL = {
    "type": "object",
    "properties": {
        # int64 is a string in protobuf's JSON mapping
        "rejectedSpans": {"type": ["string", "integer"]},
        "errorMessage": {"type": "string"},
    },
}
_EXPORTED = {
    "content": {
        JSON: {"schema": {"type": "object", "properties": {"partialSuccess": _PARTIAL}}},
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
    }
}

RETRY_AFTER_BUSY = "1"
RETRY_AFTER_UNAVAILABLE = "5"


PATH = "/v1/traces"
# Protobuf requests up to this size, compressed and inflated, are read and stored on the event loop
# when the state database's writer is free: a 512-span request of the reference deployment is about 120 KiB.
ON_LOOP_BYTES = 1024 * 1024


@router.post(
    PATH,
    summary="OTLP/HTTP trace export (protobuf or JSON); business spans become journeys",
    response_class=Response,
    responses={200: {"description": "An ExportTraceServiceResponse, in the request's media type", **_EXPORTED}},
    openapi_extra={"requestBody": _REQUEST},
)
async def export_traces(request: Request) -> Response:
    # The runtime's parts are read here, not through `Depends`: FastAPI runs a plain-function
    # dependency on the thread pool, and four hops per request cost this route more CPU than
    # the parse-only receiver spends on the whole request.
    runtime: Runtime = request.app.state.runtime
    metrics, settings, service = runtime.metrics, runtime.settings, runtime.traces
    media = JSON  # errors before the media type is known are answered in JSON
    try:
        media = media_type(request.headers.get("content-type"))
        limit = settings.otlp_max_body_bytes
        reader = BodyReader(request.headers.get("content-encoding"), limit)
        declared = request.headers.get("content-length", "")
        # ASCII digits only ('³' is a digit to str.isdigit()); a number too long to read is over any limit.
        if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            raise PayloadTooLarge(f"the body exceeds {limit} bytes")
        # The gate comes before reading the body, so memory is bounded by capacity x limit.
        if not service.gate.enter():
            raise Overloaded("too many export requests in progress; retry later")
        try:
            raw = bytearray()
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > limit:
                    raise PayloadTooLarge(f"the body exceeds {limit} bytes")
            body = bytes(raw)
            received = _read_on_loop(
                service, request.headers.get("content-encoding"), min(limit, ON_LOOP_BYTES), media, body
            )
            result = service.keep_now(received) if received is not None else None
            if result is None:
                result = await run_in_threadpool(_ingest, service, reader, media, body, received)
        finally:
            service.gate.leave()
    except IngestError as exc:
        retry = RETRY_AFTER_BUSY if isinstance(exc, Overloaded) else None
        return _failure(metrics, media, exc.status, str(exc), retry)
    except StoreError as exc:
        log.warning("traces not stored: %s", exc)
        return _failure(metrics, media, 503, "the state database is unavailable; retry later", RETRY_AFTER_UNAVAILABLE)
    except Exception:
        # The exporter keeps the spans and retries; a 500 would make it drop them.
        log.exception("trace ingestion failed")
        return _failure(metrics, media, 503, "internal error; retry later", RETRY_AFTER_UNAVAILABLE)
    metrics.otlp_requests.labels("200").inc()
    return Response(response(media, result.rejected, result.message), media_type=media)


class Receiver:
    """Pure ASGI middleware, outermost: `POST /v1/traces` goes straight to `export_traces`.

    The receiver takes the most requests by far, and handles every error itself in OTLP's format,
    so FastAPI's routing, exception handling and request wrapping only cost it CPU: they were a
    third of its HTTP handling per request. The route stays registered for the OpenAPI document,
    and the request reaches the same function.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            response = await export_traces(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _read_on_loop(service: TraceService, encoding: str | None, limit: int, media: str, raw: bytes) -> Received | None:
    """A small protobuf request read on the event loop, None for others (read on a worker thread).

    The hop to a worker thread and back costs more CPU than reading a request of a few hundred
    spans natively; past `limit` (ON_LOOP_BYTES at most), compressed or not, or as JSON (read in
    Python), the loop would stall other requests too long.
    """
    if media != PROTOBUF or len(raw) > limit:
        return None
    reader = BodyReader(encoding, limit)
    try:
        reader.feed(raw)
        body = reader.body()
    except PayloadTooLarge:
        return None  # within `limit` compressed, over it inflated: the worker reads it, to the real limit
    return service.read(media, body, raw if reader.gzip else None)


def _ingest(
    service: TraceService, reader: BodyReader, media: str, raw: bytes, received: Received | None
) -> IngestResult:
    if received is None:
        reader.feed(raw)
        received = service.read(media, reader.body(), raw if reader.gzip else None)
    return service.keep(received)


def _failure(metrics: Metrics, media: str, status: int, message: str, retry_after: str | None) -> Response:
    metrics.otlp_requests.labels(str(status)).inc()
    headers = {"Retry-After": retry_after} if retry_after else None
    return Response(status_body(media, status, message), status_code=status, media_type=media, headers=headers)
