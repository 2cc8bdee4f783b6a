"""The flow board: `GET /` for people, `GET /api/v1/board` for machines; read-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from ..hypercare.board import board_data
from ..hypercare.board_html import DEFAULT_REFRESH, render_board
from ..web.signal_charts import signal_charts
from .access import gate, may_read
from .deps import RuntimeDep, runtime_bands
from .errors import answers
from .schemas import Board

router = APIRouter(tags=["board"])


def _board(runtime: RuntimeDep) -> dict[str, Any]:
    return board_data(runtime.model, runtime.engine, runtime.clock.now(), runtime.incidents.links)


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The flow board for on-call and hypercare",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def board_page(
    request: Request,
    runtime: RuntimeDep,
    refresh: Annotated[int, Query(ge=1, le=3600, description="Seconds between reloads.")] = DEFAULT_REFRESH,
) -> Response:
    if (denied := gate(request, runtime)) is not None:
        return denied
    now = runtime.clock.now()
    charts = signal_charts(runtime.model, runtime.engine, now - timedelta(hours=24), now, bands=runtime_bands(runtime))
    return HTMLResponse(render_board(_board(runtime), refresh, charts), headers={"Cache-Control": "no-store"})


@router.get("/api/v1/board", summary="The flow board's data", response_model=Board, responses=answers(401))
def board_json(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    if not may_read(request, runtime):
        raise HTTPException(401, "the board needs FLOWHEALTH_BOARD_TOKEN", headers={"WWW-Authenticate": "Bearer"})
    return _board(runtime)
