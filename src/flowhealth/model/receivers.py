"""A team's channels beyond Slack: PagerDuty, Microsoft Teams, a signed webhook and email.

Each receiver names the severities it takes, so "critical to PagerDuty and Slack, warning to
Slack only, finance gets an email digest" is three lines of YAML. Every secret (a routing key,
a Workflows URL, which carries its own signature, an HMAC secret, an SMTP password) is a
``${ENV_VAR}`` reference: a literal is a validation error at its file and line.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from .base import Strict

Severity = Literal["critical", "warning", "info"]
ALL_SEVERITIES: list[Severity] = ["critical", "warning", "info"]

_ONLY_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$")
_HAS_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}")


def _only_reference(value: str) -> str:
    if not _ONLY_REF.match(value):
        raise ValueError("must be a ${ENV_VAR} reference: secrets never live in model files")
    return value


def _url_with_reference(value: str) -> str:
    if not _HAS_REF.search(value):
        raise ValueError("must hold a ${ENV_VAR} reference (the URL itself grants access)")
    return value


SecretRef = Annotated[str, AfterValidator(_only_reference)]
SecretUrl = Annotated[str, AfterValidator(_url_with_reference)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")]


class _Receiver(Strict):
    severities: list[Severity] = Field(
        default_factory=lambda: list(ALL_SEVERITIES), min_length=1, description="Severities sent here."
    )


class PagerDutyReceiver(_Receiver):
    """PagerDuty Events API v2: trigger, acknowledge and resolve, one dedup_key per incident."""

    kind: Literal["pagerduty"]
    routing_key: SecretRef = Field(description="Integration (routing) key of the service, e.g. ${PD_ERP_KEY}.")
    url: str | None = Field(default=None, description="Events API base URL; default https://events.pagerduty.com.")


class TeamsReceiver(_Receiver):
    """Microsoft Teams through a Workflows (Power Automate) webhook: one Adaptive Card per notice."""

    kind: Literal["teams"]
    url: SecretUrl = Field(description="The Workflows webhook URL, e.g. ${TEAMS_FINANCE_URL}.")


class WebhookReceiver(_Receiver):
    """A JSON POST signed with HMAC-SHA256 over timestamp and body (docs/webhook.md)."""

    kind: Literal["webhook"]
    url: str = Field(description="Where to POST; may hold ${ENV_VAR} references.")
    secret: SecretRef = Field(description="HMAC-SHA256 signing secret, e.g. ${ERP_HOOK_SECRET}.")


class SmtpServer(Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(default=True, description="Upgrade with STARTTLS before authenticating.")
    username: str | None = Field(default=None, description="May be a ${ENV_VAR} reference.")
    password: SecretRef | None = None


class EmailReceiver(_Receiver):
    """Email over SMTP: HTML and plain text, one thread per incident; optionally a daily digest."""

    kind: Literal["email"]
    to: list[Email] = Field(min_length=1)
    sender: Email = Field(alias="from", description="From address.")
    smtp: SmtpServer
    digest: bool = Field(
        default=False,
        description="Send non-critical severities as one daily digest instead of one mail each.",
    )
    digest_at: time = Field(default=time(8, 0), description="Local time of day the digest is sent.")
    digest_timezone: str | None = Field(
        default=None,
        description="IANA time zone of digest_at; default the team's business_hours time zone, else UTC.",
    )

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value


Receiver = Annotated[
    PagerDutyReceiver | TeamsReceiver | WebhookReceiver | EmailReceiver,
    Field(discriminator="kind"),
]
ReceiverKind = Literal["slack", "pagerduty", "teams", "webhook", "email"]
