"""The small template language of rule summaries and business-impact texts (sandboxed Jinja)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from .durations import format_duration, format_number

TEMPLATE_VARIABLES = frozenset({"value", "threshold", "flow", "signal", "unit", "labels", "owner", "severity", "since"})


def _number(value: Any, digits: int = 2) -> str:
    return "unknown" if value is None else format_number(value, digits)


def _duration(value: Any) -> str:
    return "unknown" if value is None else format_duration(float(value))


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["number"] = _number
    env.filters["duration"] = _duration
    return env


def check_template(source: str) -> str | None:
    """Return why the template is unusable, or None when it is fine."""
    env = environment()
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message}"
    unknown = sorted(meta.find_undeclared_variables(ast) - TEMPLATE_VARIABLES)
    if unknown:
        known = ", ".join(sorted(TEMPLATE_VARIABLES))
        return f"unknown template variable(s) {', '.join(unknown)}; known: {known}"
    return None


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    return environment().from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a checked template; a failure shows the raw text rather than losing the alert."""
    try:
        return _compiled(source).render(**context)
    except Exception:
        return source
