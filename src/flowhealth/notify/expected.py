"""How every renderer words a baseline alert's expectation (see alerting/expected_note.py)."""

from __future__ import annotations

from typing import Any

from ..alerting.expected_note import ExpectedNote, expected_line


def expected_text(alert: dict[str, Any]) -> str:
    """ "expected 1.2 (band 0.72-2.4), now 0.1 ...: -92%; Fri 15:00, 4 weeks; about 4,800 EUR at risk per hour"."""
    return expected_line(ExpectedNote.from_json(alert["expected"]), alert["value_text"])
