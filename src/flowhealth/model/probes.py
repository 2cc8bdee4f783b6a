"""Probe specifications: how each signal is measured. One class per probe kind.

A new kind adds its class here, to the `ProbeSpec` union, and its factory to
`flowhealth.probes.registry.FACTORIES`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from .base import Ident, LabelName, Strict
from .durations import Duration


class SqlProbe(Strict):
    """Run a read-only query; one number, or one sample per row with label columns."""

    kind: Literal["sql"]
    connection: Ident
    query: str = Field(description="SQL; may use the bound parameter :now (epoch seconds).")
    value_column: str | None = Field(default=None, description="Column holding the value (default: first).")
    label_columns: list[LabelName] = Field(default_factory=list)
    interval: Duration = Field(default=timedelta(seconds=60))
    timeout: Duration = Field(default=timedelta(seconds=10))


class PushProbe(Strict):
    """The integration reports the value itself through the API or CLI."""

    kind: Literal["push"]
    expect_every: Duration | None = Field(
        default=None, description="How often a value should arrive; older values count as unknown."
    )


TraceMeasure = Literal["latency", "in_flight", "oldest", "rejections", "duplicates", "retries", "interventions"]
TraceStatistic = Literal["p50", "p90", "p95", "p99", "max", "latest"]


class TraceProbe(Strict):
    """Derived from the flow's business spans (see the flow's `traces` block); never scheduled."""

    kind: Literal["trace"]
    measure: TraceMeasure = Field(
        description="latency (stage to stage), in_flight, oldest (age of the oldest journey in flight), "
        "rejections (by stage and reason), duplicates, retries or interventions (by stage)."
    )
    from_: Ident | None = Field(default=None, alias="from", description="Latency from this stage (default: first).")
    to: Ident | None = Field(default=None, description="Latency to this stage (default: the flow's last stage).")
    statistic: TraceStatistic = Field(default="p95", description="Which latency the value is, over the window.")
    window: Duration = Field(default=timedelta(hours=1), description="Counts and latencies of this recent past.")
    interval: Duration = Field(
        default=timedelta(seconds=30), description="How often the value is recomputed from the journeys."
    )


ProbeSpec = Annotated[
    SqlProbe | PushProbe | TraceProbe,
    Field(discriminator="kind"),
]
