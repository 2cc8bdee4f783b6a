"""Answers for failures no route handles itself: an unavailable state database is 503, never 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from .schemas import ErrorDetail

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"

Responses = dict[int | str, dict[str, Any]]


# Inline, not `model=`: FastAPI would document a model in the route's own media type (Markdown, HTML).
_ERROR_SCHEMA = ErrorDetail.model_json_schema()


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}


def answers(*codes: int) -> Responses:
    """The documented error answers of a route, by status code: `responses=answers(404, 409)`."""
    return {code: ERRORS[code] for code in codes}


# Every error answer of ours is `{"detail": "..."}`; FastAPI documents its own 422 (a list of validation errors).
ERRORS: Responses = {
    400: _error("The request is malformed"),
    401: _error("Missing or wrong credentials (bearer token, or Slack's signature)"),
    403: _error("Write endpoints are disabled (no FLOWHEALTH_API_TOKEN)"),
    404: _error("No such flow, signal, incident, silence or runbook"),
    409: _error("The change conflicts with the current state"),
    413: _error("The request body is over the size limit"),
    503: _error("The state database is unavailable; retry after Retry-After seconds"),
}
# Routes that refuse a well-formed value themselves answer 422 with a sentence, besides FastAPI's list.
REFUSED: Responses = {
    422: {
        "description": "The request is invalid: validation errors (a list), or a value refused (a sentence)",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/HTTPValidationError"},
                        _ERROR_SCHEMA,
                    ]
                }
            }
        },
    }
}
# Any route: the body limit (middleware) and an unavailable state database (handlers below).
COMMON_RESPONSES: Responses = answers(413, 503)
# Routes behind the API token.
WRITE_RESPONSES: Responses = answers(401, 403)

_RPC_STATUS: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                "required": ["code"],
            }
        },
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
    }
}
# OTLP/HTTP answers failures with a google.rpc.Status, in the request's media type.
OTLP_RESPONSES: Responses = {
    code: {"description": text, **_RPC_STATUS}
    for code, text in [
        (400, "Malformed OTLP payload"),
        (413, "The body is over the size limit"),
        (415, "Unsupported content type or encoding"),
        (429, "Too many exports in progress; retry after Retry-After seconds"),
        (503, "The state database is unavailable; retry after Retry-After seconds"),
    ]
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
