"""The board's one line of evidence per alert: the first keys behind it (payment ids, order numbers).

A board card has room for a line, not a table: the first column of the evidence kept when the
alert fired, a few values, and how many more; the incident page has the whole table.
"""

from __future__ import annotations

from typing import Any

from ..evidence import EvidenceTable

BOARD_KEYS = 5


def evidence_keys(table: EvidenceTable | None) -> dict[str, Any] | None:
    """{"column", "keys", "more"} from an alert's evidence, or None when it has no rows."""
    if table is None or not table.rows or not table.columns:
        return None
    keys = ["" if row[0] is None else str(row[0]) for row in table.rows[:BOARD_KEYS]]
    return {"column": table.columns[0], "keys": keys, "more": len(table.rows) - len(keys) + table.more}
