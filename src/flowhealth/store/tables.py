"""The state flowhealth keeps: samples, probe state, alert state and history, the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Index, String, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from .types import UTCDateTime


def _time(*, index: bool = False, nullable: bool = False) -> datetime:
    return Field(sa_column=Column(UTCDateTime(), index=index, nullable=nullable))  # type: ignore[no-any-return]


def _opt_time() -> datetime | None:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))  # type: ignore[no-any-return]


class Sample(SQLModel, table=True):
    """One measurement of a signal; value None means the source could not tell (unknown)."""

    __table_args__ = (Index("ix_sample_series_time", "flow", "signal", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=64)
    signal: str = Field(max_length=64)
    labels: str = Field(default="{}", max_length=512)
    value: float | None = None
    observed_at: datetime = _time(index=True)
    source: str = Field(max_length=32)


class SignalValue(SQLModel, table=True):
    """The latest sample of each series, which the evaluator and /metrics read."""

    __tablename__ = "signal_value"

    flow: str = Field(primary_key=True, max_length=64)
    signal: str = Field(primary_key=True, max_length=64)
    labels: str = Field(primary_key=True, default="{}", max_length=512)
    value: float | None = None
    observed_at: datetime = _time()
    source: str = Field(max_length=32)


class ProbeState(SQLModel, table=True):
    """The last run of a probe: what it said, and for how long it has been failing."""

    __tablename__ = "probe_state"

    flow: str = Field(primary_key=True, max_length=64)
    signal: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    last_outcome: str = Field(max_length=16)
    last_run_at: datetime = _time()
    last_success_at: datetime | None = _opt_time()
    last_duration_seconds: float = 0.0
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AlertState(SQLModel, table=True):
    """Where one alert series stands: inactive, pending or firing."""

    __tablename__ = "alert_state"

    rule: str = Field(primary_key=True, max_length=64)
    labels: str = Field(primary_key=True, default="{}", max_length=512)
    state: str = Field(max_length=16, index=True)
    pending_since: datetime | None = _opt_time()
    firing_since: datetime | None = _opt_time()
    last_true_at: datetime | None = _opt_time()
    last_value: float | None = None
    incident: int = Field(default=0, description="Counts firings of this series.")
    owner: str = Field(max_length=64)
    updated_at: datetime = _time()
    # The server default is the one revision 0002 gave the column to fill older rows; a new database has it too.
    reason: str = Field(
        default="threshold",
        max_length=16,
        sa_column_kwargs={"server_default": "threshold"},
        description="threshold or no_data.",
    )
    unknown_since: datetime | None = _opt_time()
    incident_id: int | None = Field(default=None, index=True, description="The incident it belongs to.")
    resolved_at: datetime | None = _opt_time()
    resolved_value: float | None = None
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AlertEvent(SQLModel, table=True):
    """Every transition of an alert, for history, review and audit."""

    __tablename__ = "alert_event"
    __table_args__ = (Index("ix_alert_event_rule_time", "rule", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=64)
    labels: str = Field(default="{}", max_length=512)
    flow: str = Field(max_length=64)
    incident: int = 0
    event: str = Field(max_length=32)
    at: datetime = _time()
    value: float | None = None
    actor: str | None = Field(default=None, max_length=128)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class OutboxMessage(SQLModel, table=True):
    """A notification to deliver, written in the same transaction as the change it reports."""

    __tablename__ = "outbox_message"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_outbox_dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=700)
    thread_key: str = Field(max_length=700, index=True, description="Messages of one thread go in order.")
    kind: str = Field(max_length=32)
    team: str = Field(max_length=64)
    channel: str = Field(max_length=96)
    receiver: str = Field(
        default="slack",
        sa_column=Column(String(64), nullable=False, server_default="slack"),
        description="slack, or team/receiver for a team's other channels (PagerDuty, Teams, webhook, email).",
    )
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time()
    next_attempt_at: datetime = _time(index=True)
    attempts: int = 0
    attempt_started_at: datetime | None = _opt_time()
    maybe_sent: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=false()),
        description="An earlier attempt may have reached the receiver: look before sending again.",
    )
    delivered_at: datetime | None = _opt_time()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    dead_lettered_at: datetime | None = _opt_time()  # retries ran out: `flowhealth outbox replay` sends it again


class NotificationThread(SQLModel, table=True):
    """Where the message of one incident lives in Slack, so later changes edit it in place."""

    __tablename__ = "notification_thread"

    thread_key: str = Field(primary_key=True, max_length=700)
    channel_id: str = Field(max_length=96)
    message_ts: str = Field(max_length=64)
    created_at: datetime = _time()


class Incident(SQLModel, table=True):
    """Alerts of one owner and group key (e.g. one flow): one Slack message, acked and escalated together."""

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(max_length=512, index=True)
    team: str = Field(max_length=64)
    status: str = Field(max_length=16, index=True, description="open or resolved.")
    severity: str = Field(max_length=16)
    opened_at: datetime = _time()
    notified_at: datetime | None = _opt_time()
    resolved_at: datetime | None = _opt_time()
    resolved_by: str | None = Field(default=None, max_length=128)
    acked_by: str | None = Field(default=None, max_length=128)
    acked_at: datetime | None = _opt_time()
    ack_expires_at: datetime | None = _opt_time()
    escalations: int = 0
    next_escalation_at: datetime | None = _opt_time()
    parent_id: int | None = Field(default=None, description="Incident this one is suppressed under.")
    view_hash: str = Field(default="", max_length=64, description="What the message last said.")
    message_seq: int = Field(default=0, description="Numbers this incident's outbox messages.")
    updated_at: datetime = _time()


class IncidentEvent(SQLModel, table=True):
    """Every human or automatic action on an incident: acked, escalated, silenced, resolved."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(index=True)
    event: str = Field(max_length=32)
    at: datetime = _time()
    actor: str | None = Field(default=None, max_length=128)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    source: str | None = Field(
        default=None,
        sa_column=Column(String(16), nullable=True),
        description="Where a person acted (an ActionSource): slack, pagerduty, api, cli; None when automatic.",
    )


class Silence(SQLModel, table=True):
    """Mutes notifications of matching alerts between two times; matchers are label equalities."""

    id: int | None = Field(default=None, primary_key=True)
    matchers: str = Field(sa_column=Column(Text, nullable=False), description="JSON object of label: value.")
    starts_at: datetime = _time()
    ends_at: datetime = _time()
    author: str = Field(max_length=128)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time()
    expired_at: datetime | None = _opt_time()
    announced_start: bool = False
    announced_end: bool = False
