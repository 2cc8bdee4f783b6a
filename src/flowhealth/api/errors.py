"""Answers for failures no route handles itself: an unavailable state database is 503, never 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"

_DETAIL: dict[str, Any] = {
    "content": {
        "application/json": {"schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}}
    }
}
_RPC_STATUS: dict[str, Any] = {
    "content": {
        "application/json": {"schema": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {}}}},
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
    }
}
# OTLP/HTTP answers failures with a google.rpc.Status, in the request's media type.
OTLP_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": text, **_RPC_STATUS}
    for code, text in [
        (400, "Malformed OTLP payload"),
        (413, "The body is over the size limit"),
        (415, "Unsupported content type or encoding"),
        (429, "Too many exports in progress; retry after Retry-After seconds"),
        (503, "The state database is unavailable; retry after Retry-After seconds"),
    ]
}
# Answers any route may give besides its own: documented once, so the OpenAPI document tells the truth.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such flow, signal, incident, silence or runbook", **_DETAIL},
    413: {"description": "The request body is over the size limit", **_DETAIL},
    415: {"description": "Unsupported content type or encoding", **_DETAIL},
    503: {"description": "The state database is unavailable; retry after Retry-After seconds", **_DETAIL},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token", **_DETAIL},
    403: {"description": "Write endpoints are disabled (no FLOWHEALTH_API_TOKEN)", **_DETAIL},
    409: {"description": "The change conflicts with the current state", **_DETAIL},
    422: {"description": "The request is invalid (validation errors or a refused value)", **_DETAIL},
}


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # The client keeps what it sent and retries; the database detail stays in our log, not the answer.
    log.warning("request failed, state database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "the state database is unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(StoreError, _database_unavailable)
    app.add_exception_handler(SQLAlchemyError, _database_unavailable)
