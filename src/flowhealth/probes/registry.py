"""Which probe class measures which `kind`: the one table new probe kinds register in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model.probes import ProbeSpec, PushProbe, TraceProbe
from ..model.probes import SqlProbe as SqlProbeSpec
from .base import Probe
from .connections import ConnectionPools
from .sql import SqlProbe, SqlQuery


@dataclass(frozen=True)
class ProbeContext:
    """What a probe factory may use: shared connection pools."""

    pools: ConnectionPools


def _sql(spec: SqlProbeSpec, ctx: ProbeContext) -> Probe:
    timeout = spec.timeout.total_seconds()
    engine = ctx.pools.engine(spec.connection, connect_timeout=timeout)
    return SqlProbe(SqlQuery(engine, spec.query, timeout), spec.value_column, spec.label_columns)


Factory = Callable[..., Probe]

# Kinds that are scheduled and run by flowhealth. `push` and `trace` are absent on purpose: push
# values arrive, and trace values are derived from ingested spans (flowhealth.traces).
FACTORIES: dict[str, Factory] = {
    "sql": _sql,
}


def is_scheduled(spec: ProbeSpec) -> bool:
    return not isinstance(spec, PushProbe | TraceProbe)


def build_probe(spec: ProbeSpec, ctx: ProbeContext) -> Probe:
    """Instantiate the probe for a spec; raises ConfigError when its environment is missing."""
    return FACTORIES[spec.kind](spec, ctx)
