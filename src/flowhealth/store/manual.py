"""Values and fixes reported by people and integrations: pushed values, manual interventions.

The API and the CLI both write through here, so `flowhealth push` on the state database and a
POST to the running service leave the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from .db import transaction
from .records import Intervention
from .samples import Reading, record_readings
from .tables import ProbeState


def record_push(engine: Engine, flow: str, signal: str, reading: Reading, now: datetime) -> None:
    """Store one pushed value; other label series of the signal keep theirs."""
    with transaction(engine) as session:
        record_readings(session, flow, signal, [reading], now, "push", replace_series=False)
        state = session.get(ProbeState, (flow, signal)) or ProbeState(
            flow=flow, signal=signal, kind="push", last_outcome="success", last_run_at=now
        )
        state.last_outcome, state.last_run_at, state.last_success_at = "success", now, now
        state.consecutive_failures, state.last_error = 0, None
        session.add(state)


@dataclass(frozen=True)
class ManualFix:
    """A record somebody fixed by hand."""

    flow: str
    reason: str
    record: str
    actor: str | None
    note: str | None


def record_intervention(engine: Engine, fix: ManualFix, now: datetime) -> int:
    """Store a manual intervention; returns its id."""
    with transaction(engine) as session:
        row = Intervention(
            flow=fix.flow, reason=fix.reason, record=fix.record, actor=fix.actor, note=fix.note, performed_at=now
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id
