"""The flow board page: server-rendered, reloaded by a few lines of script a person can pause."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..web.charts import LineChart
from .templates import environment

DEFAULT_REFRESH = 30


def render_board(
    board: dict[str, Any], refresh: int = DEFAULT_REFRESH, charts: Mapping[tuple[str, str], LineChart] | None = None
) -> str:
    """The page, reloading itself every `refresh` seconds; `charts` are each signal's last 24 h."""
    updated = datetime.fromisoformat(board["generated_at"]).strftime("%Y-%m-%d %H:%M:%S")
    return (
        environment()
        .get_template("board.html")
        .render(board=board, refresh=refresh, updated=updated, charts=charts or {})
    )
