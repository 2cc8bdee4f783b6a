"""Notices: what happened to an incident, as typed data, and the versioned outbox message carrying them.

The incident pipeline decides *what* to say (an incident opened, an alert joined, nobody
acknowledged so it escalated, ...); channels (Slack, console, PagerDuty, Teams, webhook, email)
decide only *how* it reads. A `Message` is one outbox row: how it lands in the channel
(`kind`: a new message, an edit with an optional thread reply, or a post of its own), the
incident's picture at that moment (`view`), and the notices it reports, in order.

`SCHEMA_VERSION` is stored with every message. Rows written before notices existed (no
version: a view plus a pre-rendered line) are read as version 1 and still delivered, their line
as a `Note`. A version this code does not know raises `UnknownVersion`, so the row waits for a
newer process instead of being dropped.

Renderers import from here: every model a message needs is re-exported.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..evidence import EvidenceTable
from ..model.schema import Severity
from .enums import NoticeKind
from .view_models import (
    AlertView,
    IncidentView,
    Owner,
    RunbookLink,
    SilenceInfo,
    SuppressedAlert,
)

SCHEMA_VERSION = 2
LEGACY_VERSION = 1

__all__ = [
    "SCHEMA_VERSION",
    "AckExpired",
    "Acknowledged",
    "AlertView",
    "Cleared",
    "Digest",
    "DigestEntry",
    "Escalated",
    "EvidenceTable",
    "ExternalAlert",
    "IncidentView",
    "Joined",
    "Message",
    "Note",
    "Notice",
    "NoticeKind",
    "Opened",
    "Owner",
    "Reopened",
    "Resolved",
    "ResolvedValue",
    "RunbookLink",
    "SilenceEnded",
    "SilenceInfo",
    "SilenceStarted",
    "SuppressedAlert",
    "UnknownVersion",
    "read_message",
]


class _Notice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    at: datetime  # when it happened


class Opened(_Notice):
    """A new incident: the first message about it (the view says everything)."""

    type: Literal["opened"] = "opened"


class Joined(_Notice):
    """Another alert started firing inside an open incident."""

    type: Literal["joined"] = "joined"
    rule: str
    labels: dict[str, str] = Field(default_factory=dict)
    severity: Severity
    note: str | None = None  # why it is not shouted about (held, silenced, suppressed)
    interrupts_ack: str | None = None  # a new failure in an acknowledged incident: whose ack it ended


class Cleared(_Notice):
    """One alert of a still-open incident stopped firing."""

    type: Literal["cleared"] = "cleared"
    rule: str
    labels: dict[str, str] = Field(default_factory=dict)
    value: float | None = None  # the value it cleared with
    value_text: str | None = None  # ... in its unit ("0 messages"); absent in notices queued before it existed


class Escalated(_Notice):
    """Nobody acknowledged in time: the owner is reminded and the escalation target told."""

    type: Literal["escalated"] = "escalated"
    level: int  # 1 on the first escalation
    waited_seconds: float  # since the incident was first notified
    target: Owner | None = None  # None: the team has no escalation target, only a reminder


class Acknowledged(_Notice):
    """Someone took the incident; escalation stops until `until`."""

    type: Literal["acknowledged"] = "acknowledged"
    by: str
    until: datetime


class AckExpired(_Notice):
    """The acknowledgement ran out while the incident still holds."""

    type: Literal["ack_expired"] = "ack_expired"
    by: str
    oncall: str | None = None  # who is called again


class SilenceStarted(_Notice):
    """A silence began muting alerts (of this incident, when in an incident's thread)."""

    type: Literal["silence_started"] = "silence_started"
    silence: SilenceInfo


class SilenceEnded(_Notice):
    """A silence ran out or was ended by someone (`by`)."""

    type: Literal["silence_ended"] = "silence_ended"
    silence: SilenceInfo
    by: str | None = None


class ResolvedValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    value_text: str


class Resolved(_Notice):
    """The incident is over: every alert cleared (`by` None) or a person resolved it."""

    type: Literal["resolved"] = "resolved"
    by: str | None = None
    after_seconds: float | None = None  # how long it was open, when it cleared by itself
    values: list[ResolvedValue] = Field(default_factory=list)  # each alert's value at resolve


class Reopened(_Notice):
    """A resolved incident fires again. Not emitted yet: today a new firing opens a new incident."""

    type: Literal["reopened"] = "reopened"
    previous_resolved_at: datetime | None = None


class DigestEntry(BaseModel):
    """One incident in a daily digest, as it stood when the digest was written."""

    model_config = ConfigDict(frozen=True)

    incident: int
    title: str
    flow: str | None = None
    severity: Severity
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    acked_by: str | None = None
    url: str | None = None


class Digest(BaseModel):
    """A receiver's daily summary of its team's incidents in [since, until): a message of its own, not a notice."""

    model_config = ConfigDict(frozen=True)

    team: str
    since: datetime
    until: datetime
    timezone: str  # the digest's local times are shown in this zone
    entries: list[DigestEntry] = Field(default_factory=list)


class ExternalAlert(_Notice):
    """An alert from Alertmanager that names no rule of the model: told to its team, never an incident."""

    type: Literal["external_alert"] = "external_alert"
    alertname: str
    status: Literal["firing", "resolved"]
    severity: Severity
    team: str  # who it was routed to
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    fingerprint: str
    generator_url: str = ""


class Note(_Notice):
    """A line rendered by older code (schema version 1), delivered as written."""

    type: Literal["note"] = "note"
    text: str


Notice = Annotated[
    Opened
    | Joined
    | Cleared
    | Escalated
    | Acknowledged
    | AckExpired
    | SilenceStarted
    | SilenceEnded
    | Resolved
    | Reopened
    | ExternalAlert
    | Note,
    Field(discriminator="type"),
]


class Message(BaseModel):
    """One outbox row's content, stored as JSON with its schema version."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int = SCHEMA_VERSION
    kind: NoticeKind
    view: IncidentView | None = None  # None only for messages about no incident (silence posts)
    notices: list[Notice] = Field(default_factory=list)  # empty: the picture changed, nothing to say
    digest: Digest | None = None  # a daily email digest (kind post, no view, no notices)

    def to_json(self) -> str:
        return self.model_dump_json()

    def first(self) -> Notice | None:
        return self.notices[0] if self.notices else None


class UnknownVersion(ValueError):
    """The row was written by a newer flowhealth; it waits rather than being dropped."""


def read_message(kind: str, payload: str, *, at: datetime) -> Message:
    """The message an outbox row holds; rows of schema version 1 are upgraded, not dropped.

    `at` stamps notices upgraded from version 1 rows (the row's creation time). Raises
    `UnknownVersion` for a newer schema and `ValueError` for a row that is not a message at all.
    """
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"outbox payload is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("outbox payload is not a JSON object")
    version = data.get("version", LEGACY_VERSION)
    if version == LEGACY_VERSION:
        data = _upgrade_v1(kind, data, at)
    elif version != SCHEMA_VERSION:
        raise UnknownVersion(f"outbox message of schema version {version!r}; this flowhealth reads {SCHEMA_VERSION}")
    try:
        return Message.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"outbox payload is not a valid message: {exc.errors()[0]['msg']}") from None


def _upgrade_v1(kind: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Version 1: {"view": dict | None, "thread_line": str | None, "text": str | None}."""
    line = data.get("text") if kind == NoticeKind.POST else data.get("thread_line")
    notices: list[dict[str, Any]] = []
    if kind == NoticeKind.OPEN:
        notices.append({"type": "opened", "at": at})
    if line:
        notices.append({"type": "note", "at": at, "text": str(line)})
    return {"version": SCHEMA_VERSION, "kind": kind, "view": data.get("view"), "notices": notices}
