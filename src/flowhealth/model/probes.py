"""Probe specifications: how each signal is measured. One class per probe kind.

A new kind adds its class here, to the `ProbeSpec` union, and its factory to
`flowhealth.probes.registry.FACTORIES`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import Ident, LabelName, Strict
from .durations import Duration

_INTERVAL = Field(default=timedelta(seconds=60))
_TIMEOUT = Field(default=timedelta(seconds=10))


class SqlProbe(Strict):
    """Run a read-only query; one number, or one sample per row with label columns."""

    kind: Literal["sql"]
    connection: Ident
    query: str = Field(
        description="SQL; may use the bound parameters :now (epoch seconds) and :now_ts (a UTC timestamp)."
    )
    value_column: str | None = Field(default=None, description="Column holding the value (default: first).")
    label_columns: list[LabelName] = Field(default_factory=list)
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class HttpProbe(Strict):
    """GET or POST a JSON endpoint and pick one number out of the answer."""

    kind: Literal["http"]
    url: str = Field(description="Endpoint URL; may hold ${ENV_VAR} references.")
    method: Literal["GET", "POST"] = "GET"
    json_body: dict[str, object] | None = Field(
        default=None, description="JSON body for POST; its strings may hold ${ENV_VAR} references."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Header values may be ${ENV_VAR} references (tokens)."
    )
    path: str = Field(description="Where the number is: `data.orders[0].count`, `$.backlog`, `items.length()`.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate (turn off only for tests).")
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class RabbitmqProbe(Strict):
    """A queue's ready messages or consumer count over AMQP (no management plugin)."""

    kind: Literal["rabbitmq"]
    connection: Ident = Field(description="A connection whose URL is amqp://...")
    queue: str
    measure: Literal["ready", "consumers"] = Field(
        description="ready: messages waiting for delivery; consumers: attached consumers."
    )
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class RedisProbe(Strict):
    """A Redis list's length, or a stream consumer group's lag, pending entries and their age."""

    kind: Literal["redis"]
    connection: Ident = Field(description="A connection whose URL is redis://...")
    key: str
    measure: Literal["length", "lag", "pending", "oldest_pending_age", "oldest_waiting_age"]
    group: str | None = Field(default=None, description="Consumer group; required for stream measures.")
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT

    @model_validator(mode="after")
    def _group_for_streams(self) -> RedisProbe:
        if self.measure != "length" and self.group is None:
            raise ValueError(f"measure '{self.measure}' needs the consumer 'group'")
        return self


class NatsProbe(Strict):
    """A JetStream consumer's pending, unacknowledged or redelivered messages."""

    kind: Literal["nats"]
    connection: Ident = Field(description="A connection whose URL is nats://...")
    stream: str
    consumer: str
    measure: Literal["pending", "ack_pending", "redelivered"]
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class SqlSource(Strict):
    """Rows of one side of a reconciliation, from a read-only query."""

    kind: Literal["sql"]
    connection: Ident
    query: str = Field(description="Returns key, amount and currency columns; may use :now and :now_ts.")


class HttpSource(Strict):
    """Rows of one side of a reconciliation, from a JSON list in an HTTP answer."""

    kind: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    path: str = Field(default="$", description="Where the list of records is in the answer.")
    verify_tls: bool = True


ReconcileSource = Annotated[SqlSource | HttpSource, Field(discriminator="kind")]


class ReconcileProbe(Strict):
    """Compare the records of two sources: counts, per-key sums and a keyed diff, per currency."""

    kind: Literal["reconcile"]
    source: ReconcileSource
    target: ReconcileSource
    measure: Literal["mismatches", "mismatch_amount", "records"] = Field(
        description="mismatches: records by kind; mismatch_amount: per currency; records: per side."
    )
    key: str = Field(default="key", description="Column or field naming the record (payment reference).")
    amount: str = Field(default="amount")
    currency: str = Field(default="currency")
    absolute_tolerance: float = Field(default=0.005, ge=0, description="Amounts closer than this agree.")
    relative_tolerance: float = Field(default=0.0, ge=0, lt=1, description="... or closer than this share.")
    evidence_limit: int = Field(default=100, ge=0, le=10000, description="Failing keys kept as evidence.")
    interval: Duration = Field(default=timedelta(minutes=5))
    timeout: Duration = Field(default=timedelta(seconds=30))


class ContractProbe(Strict):
    """Payloads read from a source, validated against the flow's contract; violations by field and reason."""

    kind: Literal["contract"]
    source: ReconcileSource
    payload: str | None = Field(
        default=None,
        description="Column (sql) or field (http) holding the payload as JSON; default: the whole row or record.",
    )
    key: str | None = Field(default=None, description="Column or field naming the record (an identifier).")
    evidence_limit: int = Field(default=20, ge=0, le=1000, description="Failing payloads kept, redacted.")
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class PrometheusProbe(Strict):
    """An instant PromQL query against a Prometheus HTTP API."""

    kind: Literal["prometheus"]
    url: str = Field(description="Prometheus base URL, e.g. ${PROMETHEUS_URL:-http://localhost:9090}.")
    query: str
    label_columns: list[LabelName] = Field(
        default_factory=list, description="Series labels to keep; without, the query must return one series."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class InterventionsProbe(Strict):
    """Manual interventions recorded through the API or CLI, counted per reason over a window."""

    kind: Literal["interventions"]
    window: Duration = Field(default=timedelta(hours=24))
    interval: Duration = _INTERVAL
    timeout: Duration = _TIMEOUT


class PushProbe(Strict):
    """The integration reports the value itself through the API or CLI."""

    kind: Literal["push"]
    expect_every: Duration | None = Field(
        default=None, description="How often a value should arrive; older values count as unknown."
    )


TraceMeasure = Literal[
    "latency", "in_flight", "oldest", "rejections", "duplicates", "retries", "interventions", "contract_violations"
]
TraceStatistic = Literal["p50", "p90", "p95", "p99", "max", "latest"]


class TraceProbe(Strict):
    """Derived from the flow's business spans (see the flow's `traces` block); never scheduled."""

    kind: Literal["trace"]
    measure: TraceMeasure = Field(
        description="latency (stage to stage), in_flight, oldest (age of the oldest journey in flight), "
        "rejections (by stage and reason), duplicates, retries or interventions (by stage), "
        "contract_violations (payloads of mapped spans breaking the flow's contract, by field and reason)."
    )
    from_: Ident | None = Field(default=None, alias="from", description="Latency from this stage (default: first).")
    to: Ident | None = Field(default=None, description="Latency to this stage (default: the flow's last stage).")
    statistic: TraceStatistic = Field(default="p95", description="Which latency the value is, over the window.")
    window: Duration = Field(default=timedelta(hours=1), description="Counts and latencies of this recent past.")
    interval: Duration = Field(
        default=timedelta(seconds=30), description="How often the value is recomputed from the journeys."
    )


ScheduledProbe = (
    SqlProbe
    | HttpProbe
    | RabbitmqProbe
    | RedisProbe
    | NatsProbe
    | ReconcileProbe
    | ContractProbe
    | PrometheusProbe
    | InterventionsProbe
)

ProbeSpec = Annotated[
    SqlProbe
    | HttpProbe
    | RabbitmqProbe
    | RedisProbe
    | NatsProbe
    | ReconcileProbe
    | ContractProbe
    | PrometheusProbe
    | InterventionsProbe
    | PushProbe
    | TraceProbe,
    Field(discriminator="kind"),
]
