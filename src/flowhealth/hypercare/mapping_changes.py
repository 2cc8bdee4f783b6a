"""Mapping changes in the hypercare review: recorded when the model is (re)loaded, or found with
`--since REF` in git; listed beside the incidents of the same flow that opened after them.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from ..model.gitref import last_author
from ..model.mappings import Aspect, ChangeKind, MappingChange, MappingFact, diff_facts, mapping_facts
from ..model.model import Model
from ..store.db import transaction
from ..store.mapping_tables import MappingChangeRecord, MappingState
from .history import IncidentFacts
from .section import Section


@dataclass(frozen=True)
class RecordedChange:
    """A mapping change with who made it and when."""

    change: MappingChange
    changed_by: str
    changed_at: datetime
    source: str


@dataclass(frozen=True)
class ReviewedChange:
    """A mapping change of the review period and the incidents of its flow that opened after it."""

    recorded: RecordedChange
    incidents_after: list[IncidentFacts] = field(default_factory=list)


def who_changed(model_dir: Path | None) -> str:
    """The author of the newest commit touching the model, else the user running flowhealth."""
    author = last_author(model_dir) if model_dir is not None else None
    if author is not None:
        return author.name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_mapping_changes(
    engine: Engine, model: Model, now: datetime, *, actor: str, source: str = "reload"
) -> list[RecordedChange]:
    """Compare the model with the mappings last seen, record what changed, remember the new ones.

    Start-up and reload both call this. The very first load is the baseline, not a change.
    """
    facts = mapping_facts(model)
    with transaction(engine) as session:
        known = {
            (s.flow, s.aspect, s.subject): MappingFact(s.flow, Aspect(s.aspect), s.subject, s.digest, s.summary)
            for s in session.exec(select(MappingState)).all()
        }
        changes = diff_facts(known, facts) if known else []
        for change in changes:
            session.add(_row(change, actor, now, source))
        if changes or not known:
            session.exec(delete(MappingState))
            for fact in facts.values():
                session.add(
                    MappingState(
                        flow=fact.flow,
                        aspect=fact.aspect.value,
                        subject=fact.subject[:200],
                        digest=fact.digest,
                        summary=fact.summary,
                        seen_at=now,
                    )
                )
    return [RecordedChange(c, actor, now, source) for c in changes]


def _row(change: MappingChange, actor: str, at: datetime, source: str) -> MappingChangeRecord:
    return MappingChangeRecord(
        flow=change.flow,
        aspect=change.aspect.value,
        subject=change.subject[:200],
        kind=change.kind.value,
        before=change.before,
        after=change.after,
        changed_by=actor[:128],
        changed_at=at,
        source=source,
    )


def record_git_changes(engine: Engine, changes: Sequence[RecordedChange]) -> None:
    """Keep changes found with --since, so the review lists them too."""
    with transaction(engine) as session:
        for r in changes:
            session.add(_row(r.change, r.changed_by, r.changed_at, r.source))


def recorded_changes(engine: Engine, start: datetime, end: datetime) -> list[RecordedChange]:
    """Changes recorded in [start, end), oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(MappingChangeRecord)
            .where(col(MappingChangeRecord.changed_at) >= start, col(MappingChangeRecord.changed_at) < end)
            .order_by(col(MappingChangeRecord.changed_at), col(MappingChangeRecord.id))
        ).all()
    return [
        RecordedChange(
            MappingChange(r.flow, Aspect(r.aspect), r.subject, ChangeKind(r.kind), r.before, r.after),
            r.changed_by,
            r.changed_at,
            r.source,
        )
        for r in rows
    ]


def review_changes(
    engine: Engine, start: datetime, end: datetime, incidents: Sequence[IncidentFacts]
) -> list[ReviewedChange]:
    """The period's mapping changes, each with the incidents of its flow opened after it (within the period)."""
    return [
        ReviewedChange(r, [i for i in incidents if i.flow == r.change.flow and i.opened_at >= r.changed_at])
        for r in recorded_changes(engine, start, end)
    ]


def changes_section(changes: Sequence[ReviewedChange]) -> Section:
    """The review's "Mapping changes" section: what changed, who, when, and the incidents after it."""
    rows = []
    for r in changes:
        c = r.recorded.change
        what = {
            ChangeKind.ADDED: f"added: {c.after}",
            ChangeKind.REMOVED: f"removed (was: {c.before})",
            ChangeKind.CHANGED: f"{c.before} → {c.after}",
        }[c.kind]
        after = ", ".join(f"#{i.id} ({i.opened_at:%Y-%m-%d %H:%M}, {i.severity})" for i in r.incidents_after)
        rows.append(
            [
                f"{r.recorded.changed_at:%Y-%m-%d %H:%M}",
                c.flow,
                f"{c.aspect.value} {c.subject}",
                what,
                r.recorded.changed_by,
                after or "none",
            ]
        )
    note = (
        "Contract versions, identifiers, span mappings and probe queries that changed in the period, "
        "beside the incidents of the same flow that opened after them."
        if rows
        else "None recorded."
    )
    return Section("Mapping changes", ["when (UTC)", "flow", "what", "change", "by", "incidents after it"], rows, note)
