"""A part of the hypercare review that another part of flowhealth adds: a title, a table, a note.

Its own module so the parts that build one (mapping changes, channels) and the review that
gathers them do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """An extra part of the review (e.g. mapping changes): a title, a table, a note; every format renders it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
