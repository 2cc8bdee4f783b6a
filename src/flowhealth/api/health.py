"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from ..exposition import TextExposition
from ..heap import release_freed_memory
from .deps import RegistryDep, RuntimeDep
from .schemas import Health

router = APIRouter(tags=["health"])
# Line prefixes depend only on a series' name and labels, so one cache serves every registry.
_TEXT = TextExposition()


@router.get(
    "/healthz",
    summary="Database and scheduler health; 503 when degraded",
    response_class=JSONResponse,
    responses={200: {"model": Health}, 503: {"description": "Degraded", "model": Health}},
)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    report = runtime.healthy()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.get(
    "/metrics",
    summary="Prometheus exposition of flow signals, probes, alerts and the outbox",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format, or OpenMetrics when asked for",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
        }
    },
)
def metrics(registry: RegistryDep, request: Request) -> Response:
    if "application/openmetrics-text" in request.headers.get("accept", ""):
        body = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
        release_freed_memory()
        return Response(body, media_type=OPENMETRICS_TYPE)
    body = _TEXT.render(registry)
    # The render's short-lived objects were freed in this worker thread's malloc arena, which
    # would keep them: hand the pages back, or RSS climbs scrape after scrape (docs/decisions.md).
    release_freed_memory()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
