"""The shape of the model files: pydantic models with ``extra="forbid"`` everywhere.

Cross-references (a rule's flow exists, an owner is a team, ...) are checked afterwards in
``crossref.py``; this module only says what a well-formed file looks like.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    model_validator,
)

from .base import Ident, LabelName, Strict
from .business_calendar import BusinessCalendar
from .devmode import allowed_in_development
from .durations import Duration, parse_duration
from .facts import ApiLimits, Contract, IdentifierSpec, Operations, ReleaseWindowRef
from .mentions import SlackMentionId
from .probes import ProbeSpec
from .receivers import Receiver
from .traces import FlowTraces

SlackChannel = Annotated[str, StringConstraints(pattern=r"^(#[a-z0-9._-]{1,80}|[CG][A-Z0-9]{6,})$")]

_SECRET_LITERAL = re.compile(r"://[^/@:]*:(?!\$\{)[^@/]+@")


class LatencyClass(StrEnum):
    """Latency expectations in business language (from the ownership model)."""

    CHECKOUT_BLOCKING = "checkout-blocking"
    SAME_DAY = "same-day"
    NEXT_CYCLE = "next-cycle"
    FINANCE_CLOSE = "finance-close"

    @property
    def default_delay_threshold(self) -> timedelta:
        """Delay or staleness beyond which the flow breaks its latency promise."""
        return _LATENCY_DEFAULTS[self]


_LATENCY_DEFAULTS = {
    LatencyClass.CHECKOUT_BLOCKING: timedelta(minutes=5),
    LatencyClass.SAME_DAY: timedelta(hours=1),
    LatencyClass.NEXT_CYCLE: timedelta(hours=26),
    LatencyClass.FINANCE_CLOSE: timedelta(days=3),
}


class SignalKind(StrEnum):
    """What a signal measures; each kind has one Prometheus metric with its unit."""

    DELAY = "delay"
    STALENESS = "staleness"
    DEPTH = "depth"
    CONSUMERS = "consumers"
    MISMATCHES = "mismatches"
    MISMATCH_AMOUNT = "mismatch_amount"
    INTERVENTIONS = "interventions"
    REJECTIONS = "rejections"
    DUPLICATES = "duplicates"
    RETRIES = "retries"
    THROUGHPUT = "throughput"
    RECORDS = "records"
    RATIO = "ratio"
    CONTRACT_VIOLATIONS = "contract_violations"

    @property
    def unit(self) -> str:
        return _KIND_UNITS[self]

    @property
    def is_time(self) -> bool:
        return self in (SignalKind.DELAY, SignalKind.STALENESS)


_KIND_UNITS = {
    SignalKind.DELAY: "seconds",
    SignalKind.STALENESS: "seconds",
    SignalKind.DEPTH: "messages",
    SignalKind.CONSUMERS: "consumers",
    SignalKind.MISMATCHES: "records",
    SignalKind.MISMATCH_AMOUNT: "amount",
    SignalKind.INTERVENTIONS: "interventions",
    SignalKind.REJECTIONS: "payloads",
    SignalKind.DUPLICATES: "records",
    SignalKind.RETRIES: "retries",
    SignalKind.THROUGHPUT: "records per second",
    SignalKind.RECORDS: "records",
    SignalKind.RATIO: "ratio",
    SignalKind.CONTRACT_VIOLATIONS: "payloads",
}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHours(Strict):
    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin.")
    days: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"])
    start: time = time(8, 0)
    end: time = time(18, 0)


class Team(Strict):
    """A team that owns systems, flows or failure modes."""

    name: str | None = None
    slack_channel: SlackChannel = Field(description="Channel for this team's alerts, e.g. #erp-alerts.")
    oncall: str | None = Field(default=None, description="On-call handle or user group, e.g. @erp-oncall.")
    slack_mentions: list[SlackMentionId] = Field(
        default_factory=list,
        description="Slack user group ids (S…) and user ids (U…) called in alerts; they notify, a handle does not.",
    )
    escalation: Ident | None = Field(default=None, description="Team to escalate to when nobody acks.")
    escalate_after: Duration = Field(default=timedelta(minutes=30))
    business_hours: BusinessHours | None = None
    receivers: dict[Ident, Receiver] = Field(
        default_factory=dict,
        description="Channels beyond Slack (pagerduty, teams, webhook, email), each with its severities.",
    )
    alertmanager_catch_all: bool = Field(
        default=False,
        description="Owns alerts from Alertmanager that name no rule of the model (at most one team).",
    )


SystemKind = Literal[
    "pim",
    "erp",
    "commerce",
    "oms",
    "crm",
    "payment",
    "psp",
    "tax",
    "wms",
    "middleware",
    "ipaas",
    "marketplace",
    "analytics",
    "cms",
    "other",
]


class System(Strict):
    """A participant in flows (PIM, ERP, commerce platform, ...)."""

    name: str
    kind: SystemKind
    owner: Ident
    api_limits: ApiLimits | None = Field(default=None, description="Rate limits, authentication, environments.")
    release_windows: list[ReleaseWindowRef] = Field(
        default_factory=list,
        description="When the system may be released: a maintenance window's id, or a window of its own.",
    )


class Connection(Strict):
    """A database or service that probes read from; probes of one connection share its pool."""

    url: str = Field(description="SQLAlchemy or service URL; credentials only as ${ENV_VAR} references.")
    pool_size: int = Field(default=2, ge=1, le=32)

    @model_validator(mode="after")
    def _no_literal_secret(self) -> Connection:
        if _SECRET_LITERAL.search(self.url) and not allowed_in_development(self.url):
            raise ValueError(
                "the URL holds a literal password; use a ${ENV_VAR} reference instead "
                "(FLOWHEALTH_DEV=1 or `validate --dev` allows it for localhost while developing)"
            )
        return self


class Signal(Strict):
    """A named measurement of a flow."""

    kind: SignalKind
    description: str
    probe: ProbeSpec

    @property
    def unit(self) -> str:
        return self.kind.unit


class AverageValue(Strict):
    """What one record of a flow is worth on average (an order, a payment), to put a price on missing volume."""

    amount: float = Field(gt=0, description="Average order or payment value, e.g. 84.50.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(description="ISO 4217, e.g. EUR.")


IntegrationPattern = Literal["api", "event", "queue", "file", "ipaas", "scheduled"]
Criticality = Literal["critical", "high", "normal", "low"]


class Flow(Strict):
    """One business object moving between systems."""

    description: str
    object: str = Field(description="Business object: order, inventory, price, payment, ...")
    source_of_truth: Ident = Field(description="System that owns the object.")
    targets: list[Ident] = Field(min_length=1)
    pattern: IntegrationPattern
    latency_class: LatencyClass
    criticality: Criticality = "normal"
    owner: Ident
    failure_owners: dict[Ident, Ident] = Field(
        default_factory=dict,
        description="Failure mode -> owning team, e.g. mapping_error: pim-team.",
    )
    signals: dict[Ident, Signal] = Field(min_length=1)
    traces: FlowTraces | None = Field(default=None, description="Business journeys from OpenTelemetry spans.")
    identifiers: dict[Ident, IdentifierSpec] = Field(
        default_factory=dict,
        description="System -> the id that joins this flow's records there, e.g. erp: external_ref.",
    )
    contract: Contract | None = Field(default=None, description="The payload contract the flow carries.")
    operations: Operations | None = Field(default=None, description="Pause, drain, replay and degraded behaviour.")
    average_value: AverageValue | None = Field(
        default=None, description="For flows that carry an amount: baseline alerts show the money at risk."
    )


# "100 messages", "2 consumers": a number with the signal's unit, checked against it in crossref.py.
THRESHOLD_WITH_UNIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Za-z][A-Za-z ]*?)\s*$")


def _threshold(value: Any) -> Any:
    # Time thresholds read better as durations ("15m") than as seconds.
    if isinstance(value, str):
        with_unit = THRESHOLD_WITH_UNIT.match(value)
        if with_unit:
            return float(with_unit.group(1))
        try:
            return parse_duration(value).total_seconds()
        except ValueError:
            raise ValueError(
                f"'{value}' is neither a number (100), a number with the signal's unit (100 messages) "
                "nor a duration (15m, for delay and staleness signals)"
            ) from None
    return value


Threshold = Annotated[float, BeforeValidator(_threshold)]


class Evidence(Strict):
    """A query whose first rows are shown in the alert (affected orders, SKUs, ...)."""

    connection: Ident
    query: str
    limit: int = Field(default=5, ge=1, le=50)


Severity = Literal["critical", "warning", "info"]
NoDataPolicy = Literal["keep_last", "alerting", "ok"]
GroupKey = Literal["flow", "rule", "team", "signal"]


def _by_flow() -> list[GroupKey]:
    # A plain function: `list[GroupKey](...)` built a generic alias for each of 10,000 rules.
    return ["flow"]


class AlertRule(Strict):
    """A condition on a signal that, held for a while, needs its owner's attention."""

    flow: Ident
    signal: Ident
    above: Threshold | None = Field(default=None, description="Fire when the value exceeds this.")
    below: Threshold | None = Field(default=None, description="Fire when the value falls under this.")
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = Field(default=timedelta(0))
    severity: Severity
    summary: str = Field(description="One line; Jinja template with value, threshold, flow, signal, labels.")
    business_impact: str = Field(description="What the business loses while this fires (template).")
    runbook: Ident
    owner: Ident | None = Field(default=None, description="Overrides the flow's owner.")
    failure_mode: Ident | None = Field(default=None, description="Routes to the flow's owner of this mode.")
    evidence: Evidence | None = None
    labels: dict[LabelName, str] = Field(default_factory=dict)
    recovery_threshold: Threshold | None = Field(
        default=None,
        description="Hysteresis: once firing, clear only past this value (below it for 'above' rules).",
    )
    no_data: NoDataPolicy = Field(
        default="keep_last",
        description="When the value is unknown: keep_last holds the state, alerting fires a no-data alert, ok clears.",
    )
    no_data_after: Duration | None = Field(
        default=None, description="How long the value must be unknown before no_data applies (default: 3 intervals)."
    )
    escalate_after: Duration | None = Field(default=None, description="Overrides the owner team's escalate_after.")
    group_by: list[GroupKey] = Field(
        default_factory=_by_flow,
        description="Alerts with equal values here share one incident and message.",
    )
    marks_down: list[Ident] = Field(
        default_factory=list,
        description="Systems this alert says are down: alerts of flows touching them are suppressed under it.",
    )

    @model_validator(mode="after")
    def _one_direction(self) -> AlertRule:
        if self.above is not None and self.below is not None:
            raise ValueError("give either 'above' or 'below', not both")
        if self.recovery_threshold is not None:
            if self.above is not None and self.recovery_threshold > self.above:
                raise ValueError("recovery_threshold of an 'above' rule must not exceed 'above'")
            if self.below is not None and self.recovery_threshold < self.below:
                raise ValueError("recovery_threshold of a 'below' rule must not be under 'below'")
        return self


END_OF_DAY = time.max  # "24:00": until midnight, the end of the day the window starts


def _end_of_day(value: Any) -> Any:
    # `time` stops at 23:59:59.999999; "24:00" is how Alertmanager and people say "until midnight".
    return END_OF_DAY if isinstance(value, str) and value.strip() in ("24:00", "24:00:00") else value


class MaintenanceWindow(Strict):
    """A recurring window (e.g. ERP maintenance) in which alerts of flows touching its systems are held."""

    systems: list[Ident] = Field(min_length=1)
    timezone: str = Field(description="IANA time zone the times are in, e.g. Europe/Berlin.")
    weekdays: list[Weekday] = Field(min_length=1)
    start: time
    end: Annotated[time, BeforeValidator(_end_of_day)] = Field(
        description='"24:00" (or "00:00") is midnight at the end of the start day; earlier than start: '
        "the window ends the next day."
    )
    reason: str

    @property
    def until_midnight(self) -> bool:
        """Ends at midnight after the start day ("24:00", or "00:00" with a later start)."""
        return self.end == END_OF_DAY or self.end == time(0)


class FlowsFile(Strict):
    """A file under flows/: any of teams, systems, connections and flows."""

    teams: dict[Ident, Team] = Field(default_factory=dict)
    systems: dict[Ident, System] = Field(default_factory=dict)
    connections: dict[Ident, Connection] = Field(default_factory=dict)
    flows: dict[Ident, Flow] = Field(default_factory=dict)
    maintenance_windows: dict[Ident, MaintenanceWindow] = Field(default_factory=dict)
    calendars: dict[Ident, BusinessCalendar] = Field(default_factory=dict)
