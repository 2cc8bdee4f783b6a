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


ProbeSpec = Annotated[
    SqlProbe | PushProbe,
    Field(discriminator="kind"),
]
