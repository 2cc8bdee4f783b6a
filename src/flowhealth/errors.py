"""The one exception tree of flowhealth.

    FlowHealthError
    ├── ModelError            the as-code model is invalid (carries every ModelIssue)
    ├── ConfigError           settings or environment are unusable (missing ${ENV}, bad URL)
    ├── ProbeError            a probe could not produce a value
    │   ├── ProbeTimeout      ... because the target did not answer in time
    │   └── ProbeInvalid      ... because the target answered with something that is no number
    ├── StoreError            the database failed
    │   └── SchemaError       ... its schema is of another flowhealth version (or not flowhealth's)
    ├── IngestError           an OTLP export request was refused (traces receiver)
    │   ├── MalformedPayload  ... its body is not OTLP (HTTP 400)
    │   ├── PayloadTooLarge   ... its body is too large once decompressed (413)
    │   ├── UnsupportedMedia  ... content type or encoding is not OTLP/HTTP (415)
    │   └── Overloaded        ... too many requests in progress; retry later (429)
    └── DeliveryError         a notification could not be delivered (yet)
        ├── DeliveryRetryable ... try again later (network, 5xx, 429 with Retry-After)
        └── DeliveryRejected  ... retrying cannot help (bad token, unknown channel)

Third-party errors are mapped to these at the boundary that calls the library.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlowHealthError(Exception):
    """Base of every error flowhealth raises on purpose."""


@dataclass(frozen=True, order=True)
class ModelIssue:
    """One problem in the model, located as precisely as the source allows."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.path}:{self.line}:{field} {self.message}"


class ModelError(FlowHealthError):
    """The model did not load; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ModelIssue]) -> None:
        self.issues = sorted(set(issues))
        super().__init__("\n".join(str(issue) for issue in self.issues))


class ConfigError(FlowHealthError):
    """Settings or the environment cannot be used as given."""


class ProbeError(FlowHealthError):
    """A probe run failed; the message is safe to show (no secrets)."""


class ProbeTimeout(ProbeError):
    """The probe target did not answer within the probe's timeout."""


class ProbeInvalid(ProbeError):
    """The probe target answered, but not with a usable number."""


class StoreError(FlowHealthError):
    """The state database failed."""


class SchemaError(StoreError):
    """The state database's schema is older or newer than this code, or unrecognisable; nothing was changed."""


class DeliveryError(FlowHealthError):
    """A notification was not delivered."""


class DeliveryRetryable(DeliveryError):
    """Delivery failed for a reason that may pass; ``retry_after`` is a hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryRejected(DeliveryError):
    """Delivery failed for a reason retrying cannot fix."""


class IngestError(FlowHealthError):
    """An OTLP export request was refused; `status` is the HTTP status to answer with."""

    status = 400


class MalformedPayload(IngestError):
    """The body is not a valid OTLP export request (protobuf or JSON)."""


class PayloadTooLarge(IngestError):
    """The body exceeds the size limit once decompressed."""

    status = 413


class UnsupportedMedia(IngestError):
    """The content type or encoding is not one OTLP/HTTP uses."""

    status = 415


class Overloaded(IngestError):
    """Too many export requests are in progress; the client should retry after a while."""

    status = 429
