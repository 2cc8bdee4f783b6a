"""A runbook's Markdown by id: the model's own, or the built-in one for failing probes."""

from __future__ import annotations

from pathlib import Path

from ..model.model import PROBE_FAILING, Model

BUILTIN_RUNBOOKS = Path(__file__).resolve().parent.parent / "alerting" / "runbooks"


def runbook_text(model: Model, runbook_id: str) -> str | None:
    book = model.runbooks.get(runbook_id)
    if book is not None:
        return book.text
    builtin = BUILTIN_RUNBOOKS / f"{runbook_id}.md"
    if runbook_id == PROBE_FAILING and builtin.is_file():
        return builtin.read_text(encoding="utf-8")
    return None
