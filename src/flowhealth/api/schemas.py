"""The JSON the API answers with, as pydantic models: the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..alerting.enums import ActionSource
from ..alerting.expected_note import ExpectedNote
from ..hypercare.board_delivery import DeliveryProblem

Timestamp = str  # ISO 8601 with offset, as `datetime.isoformat()` writes it


class ErrorDetail(BaseModel):
    """Every 4xx/5xx from our own checks: one sentence saying what is wrong."""

    detail: str = Field(description="What is wrong, in one sentence.")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str = Field(description="'ok', or 'unreachable: <error type>'.")
    scheduler: Literal["running", "stopped"]
    cycles: dict[str, str] = Field(
        default_factory=dict,
        description="Each background cycle that has run (evaluate, deliver, traces, prune): 'ok', or "
        "'failing since <time>: <reason>'; any failing cycle makes the status degraded.",
    )
    replica: ReplicaHealth | None = None


class ReplicaHealth(BaseModel):
    id: str = Field(description="host:pid:random of this process.")
    role: Literal["single", "leader", "follower"] = Field(
        description="single: SQLite, the only process; leader: evaluates rules (PostgreSQL); follower."
    )
    replicas: int = Field(description="Live replicas this one sees, itself included.")
    probes: list[str] = Field(description="flow/signal of every probe this replica runs.")


class Reloaded(BaseModel):
    status: Literal["reloaded", "refused"]
    model_digest: str = Field(description="sha256 of the model files in use after the request.")
    errors: list[str] = Field(description="Why a refused model was refused: path:line: field: message.")
    removed_rules: list[str] = Field(description="Rules gone; their firing alerts were resolved.")
    added_rules: list[str]


class Series(BaseModel):
    labels: dict[str, str]
    value: float | None
    observed_at: Timestamp
    trend: str | None = Field(default=None, description="Depth signals: rising, falling, flat or unknown.")


class FlowSignal(BaseModel):
    signal: str
    kind: str
    unit: str
    probe: str = Field(description="The probe kind: sql, http, push, trace, …")
    probe_outcome: str | None
    series: list[Series]


class Flow(BaseModel):
    flow: str
    object: str
    owner: str
    latency_class: str
    criticality: str
    signals: list[FlowSignal]


class Alert(BaseModel):
    rule: str
    labels: dict[str, str]
    flow: str | None
    state: Literal["pending", "firing"]
    owner: str | None
    value: float | None
    pending_since: Timestamp | None
    firing_since: Timestamp | None
    incident: int | None = Field(description="The incident number, as in the CLI, Slack and the board.")
    firings: int = Field(description="How often this series has fired.")
    expected: ExpectedNote | None = Field(
        default=None, description="Baseline rules: the expected value and band, deviation, basis and money at risk."
    )


class Evidence(BaseModel):
    """The first records behind an alert (order ids, journeys, a reconciliation's failing payments)."""

    columns: list[str]
    rows: list[list[str | int | float | None]] = Field(description="The first rows, at most 20.")
    more: int = Field(description="Rows found beyond those listed.")
    error: str | None = Field(default=None, description="Why there is no evidence, when the query failed.")


class IncidentAlert(BaseModel):
    rule: str
    state: str
    value: float | None
    evidence: Evidence | None = Field(default=None, description="Kept from when the alert fired.")


class Incident(BaseModel):
    incident: int
    status: Literal["open", "resolved"]
    team: str
    group: str
    severity: str
    opened_at: Timestamp
    acked_by: str | None
    ack_expires_at: Timestamp | None
    escalations: int
    resolved_at: Timestamp | None
    resolved_by: str | None
    alerts: list[IncidentAlert]


class Acked(BaseModel):
    incident: int
    acked_by: str | None
    ack_expires_at: datetime | None


class Resolved(BaseModel):
    incident: int
    status: Literal["open", "resolved"]
    resolved_by: str | None


class Silence(BaseModel):
    id: int
    matchers: dict[str, str]
    starts_at: Timestamp
    ends_at: Timestamp
    author: str
    reason: str
    expired_at: Timestamp | None


class Pushed(BaseModel):
    flow: str
    signal: str
    value: float
    labels: dict[str, str]
    observed_at: Timestamp


class InterventionRecorded(BaseModel):
    id: int
    flow: str
    reason: str
    record: str
    performed_at: Timestamp


class Link(BaseModel):
    id: str
    url: str


class BoardOwner(BaseModel):
    team: str
    name: str


class BoardSilence(BaseModel):
    id: int | None
    author: str
    reason: str
    until: Timestamp
    matchers: dict[str, str]


class BoardEvidence(BaseModel):
    column: str = Field(description="What the keys are, e.g. payment_ref.")
    keys: list[str] = Field(description="The first keys behind the alert, at most 5.")
    more: int = Field(description="Keys beyond those listed (the incident page lists more).")


class BoardAlert(BaseModel):
    rule: str
    state: Literal["pending", "firing"]
    silenced: bool
    owner: str | None
    value: str = Field(description="The value with its unit, for people.")
    since: str = Field(description="How long, e.g. 1h5m.")
    runbook: Link
    incident: int | None = Field(default=None, description="The incident it belongs to.")
    silence: BoardSilence | None = Field(default=None, description="The silence muting it.")
    evidence: BoardEvidence | None = Field(default=None, description="The keys behind it, kept when it fired.")


class Threshold(BaseModel):
    rule: str
    direction: Literal["above", "below"]
    value: float
    severity: str
    text: str


class BoardSeries(BaseModel):
    labels: dict[str, str]
    value: float | None
    text: str
    breached: bool
    observed_at: Timestamp


class BoardSignal(BaseModel):
    signal: str
    kind: str
    description: str
    thresholds: list[Threshold]
    series: list[BoardSeries]


class BoardIncident(BaseModel):
    id: int
    url: str = Field(description="Its page on this service.")
    severity: str
    team: str
    opened_at: Timestamp
    age: str
    acked: bool
    acked_by: str | None
    acked_via: ActionSource | None = Field(
        default=None, description="Where the acknowledgement was made; null when not acknowledged."
    )
    acked_where: str | None = Field(default=None, description='The same for people: "Slack", "the CLI".')
    escalations: int
    rules: list[str]
    runbooks: list[Link]


class InterventionsToday(BaseModel):
    count: int
    by_reason: dict[str, int]


class BoardFlow(BaseModel):
    flow: str
    description: str
    object: str
    criticality: str
    owner: BoardOwner
    status: Literal["firing", "pending", "silenced", "no data", "ok"]
    alerts: list[BoardAlert]
    signals: list[BoardSignal]
    incidents: list[BoardIncident]
    interventions_today: InterventionsToday
    silences: list[BoardSilence] = Field(default_factory=list, description="Active silences muting its rules.")


class Board(BaseModel):
    generated_at: Timestamp
    counts: dict[str, int] = Field(description="How many flows have each status.")
    delivery: list[DeliveryProblem] = Field(
        default_factory=list, description="Receivers failing to deliver notifications; empty when all is well."
    )
    flows: list[BoardFlow]
