"""What the operating model asks a team to decide and keep per flow: join identifiers, the payload
contract, and the operations facts a release or rollback needs (pause, drain, replay, degraded
behaviour), plus the API limits and release windows of each system.

Every block is optional; the readiness check says which ones a go-live still lacks.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from .base import Ident, Strict
from .durations import Duration

FieldPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_$][\w$-]*(\[\])?(\.[A-Za-z_$][\w$-]*(\[\])?)*$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")]


def _identifier(value: Any) -> Any:
    # `commerce: order_number` is the short form of `commerce: {field: order_number}`.
    return {"field": value} if isinstance(value, str) else value


class Identifier(Strict):
    """How one system names the records of a flow, so they can be joined across systems."""

    field: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Column, field or span attribute holding the id, e.g. order_number or external_ref."
    )
    prefix: str | None = Field(default=None, description="Environment or legacy prefix, e.g. SO- or TEST-.")
    description: str | None = Field(default=None, description="What the id is: legacy id, marketplace id, ...")


IdentifierSpec = Annotated[Identifier, BeforeValidator(_identifier)]


class Contract(Strict):
    """The payload contract a flow carries: its name, version, schema and who may change it."""

    name: Ident
    version: Version = Field(description="The version the flow carries now, e.g. 2.1.0.")
    schema_file: str | None = Field(
        default=None,
        alias="schema",
        description="A JSON Schema (JSON or YAML) in the model repository, relative to the model directory.",
    )
    example: str | None = Field(
        default=None, description="An example payload (JSON or YAML) in the repository; validated against the schema."
    )
    owner: Ident = Field(description="The team that may change the contract (schema change responsibility).")
    redact: list[FieldPath] = Field(
        default_factory=list,
        description="Fields never shown as evidence (e.g. customer.email, shipping_address); `lines[].name` for lists.",
    )

    @model_validator(mode="after")
    def _schema_or_example(self) -> Contract:
        if self.schema_file is None and self.example is None:
            raise ValueError("a contract needs a 'schema' or an 'example' payload file")
        return self


class Pause(Strict):
    """Whether and how the flow can be paused during a release."""

    possible: bool = True
    how: str = Field(min_length=1, description="How to pause and resume it, or why it cannot be paused.")


class DrainableQueue(Strict):
    """A queue that can be drained before a cut-over."""

    name: str = Field(min_length=1)
    system: Ident
    how: str = Field(min_length=1, description="How to drain it and how to see it is empty.")


class Replay(Strict):
    """Events that can be replayed after a failure, and the runbook step that does it."""

    event: str = Field(min_length=1, description="What is replayed, e.g. order.paid messages.")
    system: Ident = Field(description="The system that replays (or resends) them.")
    runbook: Ident
    step: int = Field(ge=1, description="The numbered step of the runbook's Recovery steps that replays.")


class Operations(Strict):
    """Release and rollback facts of a flow. An empty list says 'none', which is a fact too."""

    pause: Pause | None = None
    queues: list[DrainableQueue] | None = Field(default=None, description="Queues that can drain ([] for none).")
    replay: list[Replay] | None = Field(default=None, description="Replayable events ([] for none).")
    degraded: str | None = Field(
        default=None, description="What the storefront keeps doing while this flow is degraded."
    )


class ApiLimits(Strict):
    """API limits of a system: rate, authentication and environments, as agreed with its owner."""

    requests: int | None = Field(default=None, ge=1, description="Requests allowed per `per`.")
    per: Duration = Field(default=timedelta(minutes=1))
    burst: int | None = Field(default=None, ge=1)
    authentication: str | None = Field(default=None, description="e.g. OAuth2 client credentials, mTLS.")
    environments: list[str] = Field(default_factory=list, description="e.g. [dev, staging, production].")
    note: str | None = None


def _window(value: Any) -> Any:
    # `erp-weekly-maintenance` is the short form of `{maintenance_window: erp-weekly-maintenance}`.
    return {"maintenance_window": value} if isinstance(value, str) else value


class ReleaseWindow(Strict):
    """A recurring window in which a system may be released: a maintenance window's, or its own."""

    maintenance_window: Ident | None = Field(
        default=None, description="Reuse this maintenance window (it must hold the system)."
    )
    timezone: str | None = None
    weekdays: list[Annotated[str, StringConstraints(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]] | None = None
    start: time | None = None
    end: time | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ReleaseWindow:
        own = [self.timezone, self.weekdays, self.start, self.end]
        if self.maintenance_window is not None:
            if any(v is not None for v in own):
                raise ValueError("give either a maintenance_window or timezone, weekdays, start and end")
        elif any(v is None for v in own) or not self.weekdays:
            raise ValueError("a release window of its own needs timezone, weekdays, start and end")
        return self


ReleaseWindowRef = Annotated[ReleaseWindow, BeforeValidator(_window)]
