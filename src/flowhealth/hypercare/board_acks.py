"""Where each open incident's acknowledgement came from, for the board: Slack, PagerDuty, the API, the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from ..alerting.enums import ActionSource
from ..store.tables import IncidentEvent

AckSources = dict[int, ActionSource]


def ack_sources(session: Session, incident_ids: Sequence[int]) -> AckSources:
    """The place of each incident's latest acknowledgement (a re-acknowledgement replaces the first)."""
    if not incident_ids:
        return {}
    events = session.exec(
        select(IncidentEvent)
        .where(col(IncidentEvent.incident_id).in_(incident_ids), IncidentEvent.event == "acked")
        .order_by(col(IncidentEvent.at), col(IncidentEvent.id))
    ).all()
    found: AckSources = {}
    for event in events:
        source = _source(event.source)
        if source is not None:
            found[event.incident_id] = source
        else:
            found.pop(event.incident_id, None)  # the latest ack says nothing of where: say nothing
    return found


def _source(value: str | None) -> ActionSource | None:
    try:
        return ActionSource(value) if value else None
    except ValueError:
        return None  # written by a newer flowhealth
