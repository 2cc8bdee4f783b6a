"""Records kept beside samples: reconciliation evidence and manual interventions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, Text, delete
from sqlmodel import Field, Session, SQLModel, col, func, select

from .types import UTCDateTime


@dataclass(frozen=True)
class Mismatch:
    """One failing key of a reconciliation: what kind of failure, and both sides' amounts."""

    kind: str
    key: str
    currency: str
    source_amount: float | None
    target_amount: float | None


class MismatchEvidence(SQLModel, table=True):
    """A capped sample of the keys a reconcile probe found failing in its latest run."""

    __tablename__ = "mismatch_evidence"
    __table_args__ = (Index("ix_mismatch_evidence_signal", "flow", "signal"),)

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=64)
    signal: str = Field(max_length=64)
    observed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    kind: str = Field(max_length=32)
    record_key: str = Field(max_length=256)
    currency: str = Field(max_length=16)
    source_amount: float | None = None
    target_amount: float | None = None


class Intervention(SQLModel, table=True):
    """A record somebody fixed by hand: who, why, which record."""

    __table_args__ = (Index("ix_intervention_flow_time", "flow", "performed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=64)
    reason: str = Field(max_length=64)
    record: str = Field(max_length=256)
    actor: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    performed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def replace_evidence(
    session: Session, flow: str, signal: str, mismatches: Sequence[Mismatch], observed_at: datetime
) -> None:
    """The latest run's sample replaces the previous one: evidence describes now."""
    session.connection().execute(
        delete(MismatchEvidence).where(col(MismatchEvidence.flow) == flow, col(MismatchEvidence.signal) == signal)
    )
    for m in mismatches:
        session.add(
            MismatchEvidence(
                flow=flow,
                signal=signal,
                observed_at=observed_at,
                kind=m.kind,
                record_key=m.key[:256],
                currency=m.currency[:16],
                source_amount=m.source_amount,
                target_amount=m.target_amount,
            )
        )


def latest_evidence(session: Session, flow: str, signal: str) -> list[MismatchEvidence]:
    stmt = select(MismatchEvidence).where(MismatchEvidence.flow == flow, MismatchEvidence.signal == signal)
    return list(session.exec(stmt.order_by(col(MismatchEvidence.id))).all())


def interventions_by_reason(session: Session, flow: str, since: datetime) -> dict[str, int]:
    """How many interventions on a flow since a moment, per reason."""
    stmt = (
        select(Intervention.reason, func.count())
        .where(Intervention.flow == flow, col(Intervention.performed_at) >= since)
        .group_by(col(Intervention.reason))
    )
    return {reason: int(count) for reason, count in session.exec(stmt).all()}
