"""What an incident's message says, as typed data: the seam between incidents and every channel.

An `IncidentView` is the whole picture of one incident at one moment: its alerts (each with
value against threshold, business impact, runbook and dashboard links, evidence), its owner and
escalation target, acknowledgement and silence. Notifiers render it; they decide nothing.

The JSON of these models (`model_dump(mode="json")`) keeps the keys of the dicts stored in the
outbox before the models existed, so rows written by older code validate as views.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ..evidence import EvidenceTable
from ..model.schema import Severity
from .enums import AlertState as AlertStateName
from .enums import IncidentStatus, MemberStatus
from .expected_note import ExpectedNote

Direction = Literal["above", "below"]
AlertKind = Literal["firing", "resolved"]
Reason = Literal["threshold", "no_data"]


SEVERITIES = ("critical", "warning", "info")


def as_severity(text: str) -> Severity:
    """A severity read back from a table's text column."""
    if text not in SEVERITIES:
        raise ValueError(f"unknown severity {text!r}")
    return cast(Severity, text)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Owner(_Frozen):
    """A team as a message names it: who owns the alert, or who it escalates to."""

    team: str  # team id in the model
    name: str  # display name
    channel: str  # Slack channel, e.g. "#shop-alerts"
    oncall: str | None = None  # on-call handle to mention, e.g. "@shop-oncall"


class RunbookLink(_Frozen):
    id: str
    title: str
    url: str


class AlertView(_Frozen):
    """One alert of an incident, with everything the on-call engineer needs to act on it."""

    kind: AlertKind  # firing, or resolved (then value is the value at resolve)
    rule: str
    incident: int
    flow: str
    flow_description: str
    signal: str
    signal_description: str
    severity: Severity
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str
    business_impact: str
    value: float | None
    value_text: str  # value with unit, e.g. "25m", "1,250 EUR", "no data"
    threshold: float | None
    threshold_text: str
    direction: Direction  # the alert fires when the value is above/below the threshold
    unit: str = ""  # the signal's unit (seconds, count, amount, percent, ...)
    since: datetime  # firing since
    at: datetime  # the moment the value was taken (resolve time when resolved)
    duration_text: str
    owner: Owner
    runbook: RunbookLink
    dashboard_url: str
    incident_url: str = ""  # the incident's page on this service (older notices have none)
    evidence: EvidenceTable | None = None
    status: MemberStatus = MemberStatus.ACTIVE
    reason: Reason = "threshold"
    note: str | None = None  # why it is held, silenced or suppressed, e.g. "silenced by carol"
    expected: ExpectedNote | None = None  # baseline rules: what was expected, and the money at risk

    @property
    def comparison(self) -> str:
        return ">" if self.direction == "above" else "<"


class SilenceInfo(_Frozen):
    """A silence as messages mention it."""

    id: int
    author: str
    until: datetime
    reason: str
    starts_at: datetime | None = None
    matchers: dict[str, str] = Field(default_factory=dict)

    @property
    def matchers_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.matchers.items()))


class SuppressedAlert(_Frozen):
    """An alert held under this incident because a system it needs is down."""

    rule: str
    flow: str
    since: datetime
    owner: str


class IncidentView(_Frozen):
    """The full content of an incident's message; rendering needs nothing else."""

    incident: int  # the incident number people type ("#42")
    team: str
    owner: Owner
    escalation: Owner | None = None  # who it escalates to when nobody acknowledges
    status: IncidentStatus
    severity: Severity
    title: str
    flow: str  # flow id, or "several flows" for an alert storm
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    acked_by: str | None = None
    ack_expires_at: datetime | None = None
    escalations: int = 0
    silence: SilenceInfo | None = None  # set when every firing alert is silenced
    alerts: list[AlertView] = Field(default_factory=list)  # most important first
    suppressed: list[SuppressedAlert] = Field(default_factory=list)

    @property
    def primary(self) -> AlertView | None:
        """The alert the message leads with."""
        return self.alerts[0] if self.alerts else None

    @property
    def runbook(self) -> RunbookLink | None:
        return self.alerts[0].runbook if self.alerts else None

    @property
    def dashboard_url(self) -> str | None:
        return self.alerts[0].dashboard_url if self.alerts else None

    @property
    def evidence(self) -> EvidenceTable | None:
        return self.alerts[0].evidence if self.alerts else None

    @property
    def business_impact(self) -> str | None:
        return self.alerts[0].business_impact if self.alerts else None

    @property
    def state_word(self) -> str:
        """Firing, Acknowledged, Silenced or Resolved: what a message title leads with."""
        if self.status == IncidentStatus.RESOLVED:
            return "Resolved"
        if self.silence is not None:
            return "Silenced"
        if self.acked_by:
            return "Acknowledged"
        return "Firing"


class IncidentAlertSummary(_Frozen):
    rule: str
    state: AlertStateName
    value: float | None
    evidence: EvidenceTable | None = None  # kept from firing time: the keys behind the alert


class IncidentSummary(_Frozen):
    """One line of the incident list (API, CLI): status, owner, acknowledgement, its alerts' states."""

    incident: int
    status: IncidentStatus
    team: str
    group: str  # the group key without the owner, e.g. "flow=orders"
    severity: str
    opened_at: datetime
    acked_by: str | None = None
    ack_expires_at: datetime | None = None
    escalations: int = 0
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    alerts: list[IncidentAlertSummary] = Field(default_factory=list)

    @field_serializer("opened_at", "ack_expires_at", "resolved_at")
    def _iso(self, at: datetime | None) -> str | None:
        # As `datetime.isoformat()` writes it ("+00:00"), which the API has always answered.
        return at.isoformat() if at is not None else None
