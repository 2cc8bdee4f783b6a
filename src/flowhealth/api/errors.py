"""Answers for failures no route handles itself: an unavailable state database is 503, never 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


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
