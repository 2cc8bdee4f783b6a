"""A small alerting rig: model, store, evaluator with incidents, and what the outbox holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.alerting.actions import Actions
from flowhealth.alerting.enums import NoticeKind
from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.notices import read_message
from flowhealth.clock import FakeClock
from flowhealth.links import Links
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.notify.wording import message_text, thread_text
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.samples import Reading, mark_unknown, record_readings
from flowhealth.store.tables import Incident, OutboxMessage, ProbeState

LINKS = Links("http://fh.test", "http://grafana.test")


@dataclass
class Rig:
    model: Model
    engine: Engine
    clock: FakeClock
    evaluator: Evaluator
    actions: Actions

    def observe(self, flow: str, signal: str, value: float | None, labels: dict[str, str] | None = None) -> None:
        with transaction(self.engine) as session:
            if value is None:
                mark_unknown(session, flow, signal, self.clock.now(), "sql")
            else:
                record_readings(session, flow, signal, [Reading(value, labels or {})], self.clock.now(), "sql")

    def observe_many(self, flow: str, signal: str, readings: list[Reading]) -> None:
        with transaction(self.engine) as session:
            record_readings(session, flow, signal, readings, self.clock.now(), "sql")

    def probe_failures(self, flow: str, signal: str, count: int) -> None:
        with transaction(self.engine) as session:
            state = session.get(ProbeState, (flow, signal)) or ProbeState(
                flow=flow, signal=signal, kind="sql", last_outcome="error", last_run_at=self.clock.now()
            )
            state.consecutive_failures = count
            state.last_outcome = "error" if count else "success"
            session.add(state)

    def tick(self, seconds: float = 30) -> list[str]:
        self.clock.advance(seconds)
        return [f"{t.rule}:{t.event}" for t in self.evaluator.evaluate()]

    def messages(self) -> list[dict[str, Any]]:
        """Everything queued for Slack, oldest first, with its payload unpacked."""
        with Session(self.engine) as session:
            rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [{"kind": r.kind, "channel": r.channel, "thread": r.thread_key, **as_chat(r)} for r in rows]

    def incidents(self) -> list[Incident]:
        with Session(self.engine) as session:
            return list(session.exec(select(Incident).order_by(col(Incident.id))).all())


def as_chat(row: OutboxMessage) -> dict[str, Any]:
    """A stored message as chat shows it: the view, the thread reply, the text of a post."""
    message = read_message(row.kind, row.payload, at=row.created_at)
    post = row.kind == NoticeKind.POST
    return {
        "view": message.view.model_dump(mode="json") if message.view else None,
        "thread_line": None if post else thread_text(message),
        "text": message_text(message) if post else None,
    }


def make_rig(model: Model, tmp_path: Path, clock: FakeClock, engine: Engine | None = None) -> Rig:
    engine = engine or make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    incidents = IncidentManager(model, LINKS)
    evaluator = Evaluator(model, engine, clock, Metrics(CollectorRegistry()), incidents)
    return Rig(model, engine, clock, evaluator, Actions(model, engine, clock, incidents))
