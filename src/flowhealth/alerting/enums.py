"""Every state of the alerting pipeline as an enum; the values are the strings stored in the tables.

They are `StrEnum`s, so a value read from a row compares equal to its member and a member
written to a `str` column stores the same text as before: no stored row or table changes.
"""

from __future__ import annotations

from enum import StrEnum


class AlertState(StrEnum):
    """Where one alert series stands (alert_state.state)."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class IncidentStatus(StrEnum):
    """Whether an incident is still open (incident.status)."""

    OPEN = "open"
    RESOLVED = "resolved"


class MemberStatus(StrEnum):
    """Why an alert of an incident is (not) being shouted about; in display order."""

    ACTIVE = "active"
    HELD = "held"  # a maintenance window covers a system of its flow
    SILENCED = "silenced"
    SUPPRESSED = "suppressed"  # a system it needs is down: shown under that incident
    RESOLVED = "resolved"


class NoticeKind(StrEnum):
    """How an outbox message lands in a channel (outbox_message.kind)."""

    OPEN = "open"  # a new incident message
    UPDATE = "update"  # edit the incident message in place, with an optional reply in its thread
    POST = "post"  # a message of its own (escalation to another team, silence announcements)


class ActionSource(StrEnum):
    """Where a person acknowledged or resolved an incident (incident_event.source)."""

    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    API = "api"
    CLI = "cli"

    @classmethod
    def of_actor(cls, actor: str) -> ActionSource:
        """Where an action came from when the caller did not say: Slack actors are mentions, PagerDuty's are marked."""
        if actor.startswith("<@"):
            return cls.SLACK
        if actor.endswith(" (PagerDuty)"):
            return cls.PAGERDUTY
        return cls.API

    @property
    def label(self) -> str:
        return {"slack": "Slack", "pagerduty": "PagerDuty", "api": "the API", "cli": "the CLI"}[self.value]


class Outcome(StrEnum):
    """What became of one delivery attempt (the `result` label of notification metrics)."""

    DELIVERED = "delivered"
    RETRY = "retry"


class PassTrigger(StrEnum):
    """What started an evaluation pass (the `trigger` label of `flowhealth_evaluation_passes_total`)."""

    SAMPLE = "sample"  # new samples of the signals it evaluates arrived
    INTERVAL = "interval"  # the scheduled cycle over every rule
    TIMER = "for"  # a `for`, `keep_firing_for` or no-data wait ran out


MEMBER_ORDER = {status: index for index, status in enumerate(MemberStatus)}
