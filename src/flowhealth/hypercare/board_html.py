"""The flow board page: server-rendered, refreshed by the browser itself, no JavaScript."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .templates import environment

DEFAULT_REFRESH = 30


def render_board(board: dict[str, Any], refresh: int = DEFAULT_REFRESH) -> str:
    """The page; a meta refresh reloads it every `refresh` seconds."""
    updated = datetime.fromisoformat(board["generated_at"]).strftime("%Y-%m-%d %H:%M:%S")
    return environment().get_template("board.html").render(board=board, refresh=refresh, updated=updated)
