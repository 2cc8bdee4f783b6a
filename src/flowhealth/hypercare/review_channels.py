"""The review's "Channels" section: what each kind of channel was sent, what failed, where people acknowledged.

Counted from the outbox (messages created in the period, by the kind of receiver they went to)
and from the incidents' acknowledgements (by where the person acted: Slack, PagerDuty, the API,
the CLI), so a team sees whether PagerDuty is where it really answers, or whether mail keeps
failing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..alerting.enums import ActionSource
from ..alerting.routing import SLACK, find_route
from ..model.model import Model
from ..store.tables import OutboxMessage
from .history import IncidentFacts
from .section import Section

KINDS = ("slack", "pagerduty", "teams", "webhook", "email")
_ACK_COLUMN = {
    ActionSource.SLACK: "slack",
    ActionSource.PAGERDUTY: "pagerduty",
}
_NAMES = {
    "slack": "Slack",
    "pagerduty": "PagerDuty",
    "teams": "Microsoft Teams",
    "webhook": "Webhook",
    "email": "Email",
}


def _kind(model: Model, receiver: str) -> str:
    if receiver == SLACK:
        return SLACK
    route = find_route(model.teams, receiver)
    return route.kind if route is not None else "removed receiver"


def channels_section(
    engine: Engine, model: Model, start: datetime, end: datetime, incidents: list[IncidentFacts]
) -> Section:
    """Messages delivered, waiting and given up per channel kind, and acknowledgements per place."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.receiver, OutboxMessage.delivered_at, OutboxMessage.dead_lettered_at).where(
                col(OutboxMessage.created_at) >= start, col(OutboxMessage.created_at) < end
            )
        ).all()
    delivered: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    dead: Counter[str] = Counter()
    for receiver, delivered_at, dead_at in rows:
        kind = _kind(model, receiver)
        if delivered_at is not None and delivered_at < end:
            delivered[kind] += 1
        elif dead_at is not None and dead_at < end:
            dead[kind] += 1
        else:
            waiting[kind] += 1
    acks = Counter(i.acked_via for i in incidents if i.acked_at is not None)
    kinds = [k for k in KINDS if delivered[k] or waiting[k] or dead[k] or k == SLACK]
    kinds += sorted({*delivered, *waiting, *dead} - set(kinds))
    table = [
        [
            _NAMES.get(kind, kind),
            str(delivered[kind]),
            str(waiting[kind]),
            str(dead[kind]),
            str(sum(n for source, n in acks.items() if source is not None and _ACK_COLUMN.get(source) == kind)),
        ]
        for kind in kinds
    ]
    elsewhere = {source.label: n for source, n in acks.items() if source is not None and source not in _ACK_COLUMN}
    unknown = acks.get(None, 0)
    note_parts = [f"{n} in {where}" for where, n in sorted(elsewhere.items())]
    if unknown:
        note_parts.append(f"{unknown} recorded before flowhealth noted where")
    note = "Acknowledged outside the channels: " + ", ".join(note_parts) + "." if note_parts else ""
    return Section(
        "Channels",
        ["channel", "delivered", "not yet delivered", "given up", "acknowledged there"],
        table,
        note,
    )
