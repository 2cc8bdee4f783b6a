"""The small template language of rule summaries and business-impact texts (sandboxed Jinja).

Rule texts come from the repository and are rendered inside the evaluation cycle, so they must
not be able to stall it: `validate` refuses what can blow up (a string or list times a number,
powers, ranges that are not small constants, loops nested past MAX_ITERATIONS), and rendering
itself is bounded in output (MAX_OUTPUT characters, then cut) and time (RENDER_SECONDS, then the
raw text is shown, as for any other failure); the limits are in `jinja_sandbox`.

Jinja itself lives in `jinja_sandbox` and is imported on first use: the common shape of a rule
text is checked without it (`simple_templates`), so `validate` and `export` need not import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .simple_templates import simple_parts, variables

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_VARIABLES = frozenset({"value", "threshold", "flow", "signal", "unit", "labels", "owner", "severity", "since"})


# Pure in the text: the same business-impact paragraph on thousands of rules is checked once.
@lru_cache(maxsize=4096)
def check_template(source: str) -> str | None:
    """Return why the template is unusable, or None when it is fine."""
    parts = simple_parts(source)
    if parts is not None:
        # Text and plain `{{ name }}` tags: nothing can grow, only the names need checking.
        return _unknown_variables(variables(parts))
    return check_with_jinja(source)


def check_with_jinja(source: str) -> str | None:
    """`check_template` through Jinja's parser, for any template."""
    from .jinja_sandbox import Refused, used_variables

    try:
        return _unknown_variables(used_variables(source))
    except Refused as exc:
        return str(exc)


def _unknown_variables(used: set[str]) -> str | None:
    unknown = sorted(used - TEMPLATE_VARIABLES - {"range"})
    if unknown:
        known = ", ".join(sorted(TEMPLATE_VARIABLES))
        return f"unknown template variable(s) {', '.join(unknown)}; known: {known}"
    return None


def environment() -> SandboxedEnvironment:
    """The shared sandboxed Jinja environment of rule texts."""
    from .jinja_sandbox import environment as shared

    return shared()


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a checked template; a failure or overrun shows the raw text rather than losing the alert."""
    from .jinja_sandbox import render as render_checked

    return render_checked(source, context)
