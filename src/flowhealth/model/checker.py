"""What the model's cross-checks share: where a problem is (file, line and field) and how an unknown name is told.

`crossref` runs the checks; `factcheck` the operating-model facts. Both report through a
`Checker`, which lives here so neither imports the other.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelIssue
from .model import Model
from .suggest import did_you_mean
from .yamlsource import SourceDoc

Origins = dict[tuple[str, str], tuple[SourceDoc, tuple[str, ...]]]

# The section a kind of name is defined in, to tell a name of a file that already failed.
_SECTIONS = {
    "team": "teams",
    "system": "systems",
    "flow": "flows",
    "connection": "connections",
    "calendar": "calendars",
}


class Checker:
    """Collects the problems of the cross-checks, each named by its file, line and field."""

    def __init__(self, model: Model, origins: Origins, broken: set[tuple[str, str]]) -> None:
        self.model = model
        self.origins = origins
        self.broken = broken
        self.issues: list[ModelIssue] = []

    def report(self, section: str, name: str, sub: tuple[str | int, ...], message: str) -> None:
        origin = self.origins.get((section, name))
        field = ".".join([section, name, *(str(p) for p in sub)])
        if origin is None:
            self.issues.append(ModelIssue("<model>", 1, field, message))
            return
        doc, base = origin
        self.issues.append(ModelIssue(doc.path, doc.line_of((*base, *sub)), field, message))

    def raw_item(self, section: str, name: str) -> dict[Any, Any]:
        """A definition as written in the file (a mapping; empty when it is none)."""
        origin = self.origins.get((section, name))
        if origin is None:
            return {}
        data = origin[0].data.get(section, {}).get(name, {}) if isinstance(origin[0].data, dict) else {}
        return data if isinstance(data, dict) else {}

    def must_exist(
        self,
        kind: str,
        value: str | None,
        known: dict[str, Any],
        at: tuple[str, str, tuple[Any, ...]],
    ) -> bool:
        if value is None or value in known:
            return True
        if (_SECTIONS.get(kind, ""), value) in self.broken:
            return False  # declared in a file that already failed: reported there
        choices = ", ".join(sorted(known)) or "none defined"
        section, name, sub = at
        noun, _, scope = kind.partition(" of ")  # "signal of flow 'x'" reads "unknown signal 'y' of flow 'x'"
        where = f" of {scope}" if scope else ""
        hint = did_you_mean(value, known)
        self.report(section, name, sub, f"unknown {noun} '{value}'{where}{hint} (known: {choices})")
        return False

    def timezone(self, section: str, name: str, sub: tuple[str | int, ...], tz: str) -> None:
        """Report `tz` unless it names a time zone."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.report(section, name, sub, f"unknown time zone '{tz}'")
