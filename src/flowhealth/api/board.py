"""The flow board: `GET /` for people, `GET /api/v1/board` for machines; read-only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from ..hypercare.board import board_data
from ..hypercare.board_html import DEFAULT_REFRESH, render_board
from .deps import ClockDep, EngineDep, LinksDep, ModelDep
from .schemas import Board

router = APIRouter(tags=["board"])


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
    board: BoardDep,
    refresh: Annotated[int, Query(ge=1, le=3600, description="Seconds between reloads.")] = DEFAULT_REFRESH,
) -> HTMLResponse:
    return HTMLResponse(render_board(board, refresh), headers={"Cache-Control": "no-store"})


@router.get("/api/v1/board", summary="The flow board's data", response_model=Board)
def board_json(board: BoardDep) -> dict[str, Any]:
    return board
