"""The Jinja environment for the web pages: their own templates, then the board's (style, chart macro)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ..model.units import format_quantity

if TYPE_CHECKING:
    from jinja2 import Environment


def _when(value: object) -> str:
    """A moment as people read it on the page: `2025-03-09 14:05 UTC`; None as a dash."""
    from datetime import datetime

    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.strftime("%Y-%m-%d %H:%M UTC")


@cache
def environment() -> Environment:
    # Jinja is imported by the first page, not by `serve` before /healthz answers (~0.1 s).
    from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("flowhealth.web", "templates"), PackageLoader("flowhealth.hypercare", "templates")]
        ),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["quantity"] = format_quantity
    return env
