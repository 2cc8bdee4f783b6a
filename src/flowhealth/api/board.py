"""The flow board: `GET /` for people, `GET /api/v1/board` for machines; read-only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from ..hypercare.board import board_data
from ..hypercare.board_html import DEFAULT_REFRESH, render_board
from ..web.charts import LineChart
from ..web.signal_charts import signal_charts
from .access import gate, may_read
from .deps import ClockDep, EngineDep, LinksDep, ModelDep, RuntimeDep, runtime_bands
from .errors import answers
from .schemas import Board

router = APIRouter(tags=["board"])
SPARKLINE_TTL = timedelta(seconds=60)


def _board(model: ModelDep, engine: EngineDep, clock: ClockDep, links: LinksDep) -> dict[str, Any]:
    return board_data(model, engine, clock.now(), links)


BoardDep = Annotated[dict[str, Any], Depends(_board)]


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The flow board for on-call and hypercare",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def board_page(
    request: Request,
    runtime: RuntimeDep,
    board: BoardDep,
    refresh: Annotated[int, Query(ge=1, le=3600, description="Seconds between reloads.")] = DEFAULT_REFRESH,
) -> Response:
    if (denied := gate(request, runtime)) is not None:
        return denied
    return HTMLResponse(
        render_board(board, refresh, _sparklines(request, runtime)), headers={"Cache-Control": "no-store"}
    )


def _sparklines(request: Request, runtime: RuntimeDep) -> dict[tuple[str, str], LineChart]:
    """Every signal's last 24 h; kept for a minute, since a day of samples is a scan and boards reload often."""
    now = runtime.clock.now()
    cached: tuple[datetime, dict[tuple[str, str], LineChart]] | None = getattr(request.app.state, "sparklines", None)
    if cached is not None and timedelta(0) <= now - cached[0] < SPARKLINE_TTL:
        return cached[1]
    charts = signal_charts(runtime.model, runtime.engine, now - timedelta(hours=24), now, bands=runtime_bands(runtime))
    request.app.state.sparklines = (now, charts)
    return charts


@router.get("/api/v1/board", summary="The flow board's data", response_model=Board, responses=answers(401))
def board_json(request: Request, runtime: RuntimeDep, board: BoardDep) -> dict[str, Any]:
    if not may_read(request, runtime):
        raise HTTPException(401, "the board needs FLOWHEALTH_BOARD_TOKEN", headers={"WWW-Authenticate": "Bearer"})
    return board
