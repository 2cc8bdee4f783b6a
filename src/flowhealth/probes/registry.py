"""Which probe class measures which `kind`: the one table new probe kinds register in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..model import probes as spec
from ..model.contracts import LoadedContract
from ..model.envref import resolve_strings
from ..model.probes import ProbeSpec, PushProbe, TraceProbe
from .base import Probe
from .clients import SharedClients
from .connections import ConnectionPools
from .contract import ContractProbe, http_records, sql_records
from .http import HttpProbe, JsonEndpoint
from .interventions import InterventionsProbe
from .nats import NatsProbe
from .prometheus import PrometheusProbe
from .rabbitmq import RabbitmqProbe
from .reconcile import Fetch, ReconcileProbe, http_fetch, sql_fetch
from .redis import RedisProbe
from .sql import SqlProbe, SqlQuery

Factory = Callable[..., Probe]


@dataclass(frozen=True)
class ProbeContext:
    """What a probe factory may use: shared SQL pools, shared broker clients, the state database."""

    pools: ConnectionPools
    clients: SharedClients = field(default_factory=SharedClients)
    state: Engine | None = None
    secrets: frozenset[str] = frozenset()  # values of ${ENV} references: scrubbed from every error
    contracts: Mapping[str, LoadedContract] = field(default_factory=dict)  # by flow: what contract probes check
    # Which factory builds which probe kind; None: the built-in FACTORIES. Tests pass stand-ins here.
    factories: Mapping[str, Factory] | None = None

    def close(self) -> None:
        self.clients.close()
        self.pools.dispose()


def _seconds(value: object) -> float:
    return float(value.total_seconds())  # type: ignore[attr-defined]


def _sql(s: spec.SqlProbe, ctx: ProbeContext, flow: str) -> Probe:
    timeout = _seconds(s.timeout)
    engine = ctx.pools.engine(s.connection, connect_timeout=timeout)
    return SqlProbe(SqlQuery(engine, s.query, timeout), s.value_column, s.label_columns)


def _endpoint(
    ctx: ProbeContext, url: str, headers: dict[str, str], verify: bool, timeout: float, where: str
) -> JsonEndpoint:
    return JsonEndpoint(ctx.clients, url, headers, ctx.pools.environ, verify=verify, timeout=timeout, where=where)


def _http(s: spec.HttpProbe, ctx: ProbeContext, flow: str) -> Probe:
    endpoint = _endpoint(ctx, s.url, s.headers, s.verify_tls, _seconds(s.timeout), "http probe")
    body = resolve_strings(s.json_body, ctx.pools.environ, where="http probe json_body")
    return HttpProbe(endpoint, s.path, s.method, body)


def _rabbitmq(s: spec.RabbitmqProbe, ctx: ProbeContext, flow: str) -> Probe:
    url = ctx.pools.url(s.connection)
    return RabbitmqProbe(ctx.clients, s.connection, url, s.queue, s.measure, _seconds(s.timeout))


def _redis(s: spec.RedisProbe, ctx: ProbeContext, flow: str) -> Probe:
    url = ctx.pools.url(s.connection)
    size = ctx.pools.pool_size(s.connection)
    return RedisProbe(ctx.clients, s.connection, url, size, s.key, s.measure, s.group, _seconds(s.timeout))


def _nats(s: spec.NatsProbe, ctx: ProbeContext, flow: str) -> Probe:
    url = ctx.pools.url(s.connection)
    return NatsProbe(ctx.clients, s.connection, url, s.stream, s.consumer, s.measure, _seconds(s.timeout))


def _reconcile(s: spec.ReconcileProbe, ctx: ProbeContext, flow: str) -> Probe:
    timeout = _seconds(s.timeout)

    def side(source: spec.SqlSource | spec.HttpSource, name: str) -> Fetch:
        if isinstance(source, spec.SqlSource):
            engine = ctx.pools.engine(source.connection, connect_timeout=timeout)
            return sql_fetch(SqlQuery(engine, source.query, timeout), s.key, s.amount, s.currency, name)
        endpoint = _endpoint(ctx, source.url, source.headers, source.verify_tls, timeout, f"reconcile {name}")
        return http_fetch(endpoint, source.path, s.key, s.amount, s.currency, name)

    return ReconcileProbe(
        side(s.source, "source"),
        side(s.target, "target"),
        s.measure,
        s.absolute_tolerance,
        s.relative_tolerance,
        s.evidence_limit,
    )


def _contract(s: spec.ContractProbe, ctx: ProbeContext, flow: str) -> Probe:
    contract = ctx.contracts.get(flow)
    if contract is None:
        raise ConfigError(f"contract probe: flow '{flow}' has no loaded contract to validate against")
    timeout = _seconds(s.timeout)
    source = s.source
    if isinstance(source, spec.SqlSource):
        engine = ctx.pools.engine(source.connection, connect_timeout=timeout)
        records = sql_records(SqlQuery(engine, source.query, timeout))
    else:
        endpoint = _endpoint(ctx, source.url, source.headers, source.verify_tls, timeout, "contract source")
        records = http_records(endpoint, source.path)
    return ContractProbe(records, contract, s.payload, s.key)


def _prometheus(s: spec.PrometheusProbe, ctx: ProbeContext, flow: str) -> Probe:
    base = s.url.rstrip("/") + "/api/v1/query"
    endpoint = _endpoint(ctx, base, s.headers, s.verify_tls, _seconds(s.timeout), "prometheus probe")
    return PrometheusProbe(endpoint, s.query, s.label_columns)


def _interventions(s: spec.InterventionsProbe, ctx: ProbeContext, flow: str) -> Probe:
    if ctx.state is None:
        raise ConfigError("interventions probe: no state database to count interventions in")
    return InterventionsProbe(ctx.state, flow, s.window)


# Kinds that are scheduled and run by flowhealth. `push` and `trace` are absent on purpose: push
# values arrive, and trace values are derived from ingested spans (flowhealth.traces).
FACTORIES: dict[str, Factory] = {
    "sql": _sql,
    "http": _http,
    "rabbitmq": _rabbitmq,
    "redis": _redis,
    "nats": _nats,
    "reconcile": _reconcile,
    "contract": _contract,
    "prometheus": _prometheus,
    "interventions": _interventions,
}


def is_scheduled(probe: ProbeSpec) -> bool:
    return not isinstance(probe, PushProbe | TraceProbe)


def build_probe(probe: ProbeSpec, ctx: ProbeContext, flow: str = "") -> Probe:
    """Instantiate the probe for a spec; raises ConfigError when its environment is missing."""
    factories = FACTORIES if ctx.factories is None else ctx.factories
    return factories[probe.kind](probe, ctx, flow)


def with_factories(**overrides: Factory) -> dict[str, Factory]:
    """The built-in probe registry with some kinds built by other factories (stand-ins in tests)."""
    return {**FACTORIES, **overrides}
