"""The same behaviour, every probe kind, real services: value, down, back, hanging, missing env."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.probes.base import Outcome
from flowhealth.probes.connections import ConnectionPools
from flowhealth.probes.registry import ProbeContext
from flowhealth.probes.runner import ProbeRunner, RunResult
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.tables import SignalValue
from tests.support import targets
from tests.support.models import ORDERS_FLOW, write_model
from tests.support.prometheus import running_prometheus
from tests.support.services import MARIADB_URL, NATS_ADDR, RABBITMQ_ADDR, REDIS_ADDR, need, need_tool, port_open
from tests.support.targets import Target

KINDS = ["sql-postgres", "sql-mariadb", "http", "rabbitmq", "redis", "nats", "reconcile", "prometheus"]

FLOW = (
    """
connections:
  target:
    url: "${{TARGET_URL}}"
"""
    + ORDERS_FLOW
    + """      measured:
        kind: {signal_kind}
        description: What the probe under test measures.
        probe:
{probe}
"""
)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_tool("prometheus")
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def _mariadb_up() -> bool:
    from sqlalchemy.engine import make_url

    url = make_url(MARIADB_URL)
    return port_open(url.host or "127.0.0.1", url.port or 3306)


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    kind = request.param
    if kind == "sql-postgres":
        made = targets.postgres(request.getfixturevalue("postgres_url"))
    elif kind == "reconcile":
        made = targets.reconcile(request.getfixturevalue("postgres_url"))
    elif kind == "sql-mariadb":
        need(_mariadb_up(), "MariaDB")
        made = targets.mariadb()
    elif kind == "http":
        server = request.getfixturevalue("stats_server")
        made = targets.http(server)
    elif kind == "prometheus":
        made = targets.prometheus(request.getfixturevalue("prometheus_url"))
    else:
        address = {"rabbitmq": RABBITMQ_ADDR, "redis": REDIS_ADDR, "nats": NATS_ADDR}[kind]
        need(port_open(*address), kind)
        made = getattr(targets, kind)()
    try:
        yield made
    finally:
        made.proxy.close()
        for step in made.cleanup:
            step()


@pytest.fixture
def stats_server() -> Iterator[object]:
    with targets.http_server() as server:
        yield server


def model_for(target: Target, root: Path) -> Model:
    probe = textwrap.indent(target.probe.strip("\n"), " " * 10) if target.probe.startswith("{") else target.probe
    return write_model(root, FLOW.format(signal_kind=target.signal_kind, probe=probe))


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    yield engine
    engine.dispose()


def runner_for(model: Model, state: Engine, environ: dict[str, str]) -> tuple[ProbeRunner, CollectorRegistry]:
    registry = CollectorRegistry()
    ctx = ProbeContext(ConnectionPools(model.connections, environ))
    return ProbeRunner(model, state, FakeClock(), Metrics(registry), ctx), registry


def values(result: RunResult) -> dict[frozenset[tuple[str, str]], float | None]:
    return {frozenset(dict(r.labels).items()): r.value for r in result.readings}


def stored(state: Engine) -> list[float | None]:
    with Session(state) as session:
        return [row.value for row in session.exec(select(SignalValue)).all()]


def test_value_is_what_the_target_holds(target: Target, tmp_path: Path, state: Engine) -> None:
    runner, registry = runner_for(model_for(target, tmp_path / "m"), state, {"TARGET_URL": target.url})
    try:
        result = runner.run("orders", "measured")
    finally:
        runner.close()
    assert result.outcome is Outcome.SUCCESS, result.error
    assert values(result) == target.expected
    labels = {"flow": "orders", "signal": "measured", "outcome": "success"}
    kind = result.readings and next(iter(runner_kind(registry, labels)))
    assert kind


def runner_kind(registry: CollectorRegistry, labels: dict[str, str]) -> list[str]:
    """Kinds with one successful run counted on flowhealth_probe_runs_total."""
    return [
        sample.labels["kind"]
        for metric in registry.collect()
        if metric.name == "flowhealth_probe_runs"
        for sample in metric.samples
        if sample.name.endswith("_total")
        and all(sample.labels.get(k) == v for k, v in labels.items())
        and sample.value == 1
    ]


def test_target_down_is_an_error_and_unknown_then_back_is_a_success(
    target: Target, tmp_path: Path, state: Engine
) -> None:
    runner, _ = runner_for(model_for(target, tmp_path / "m"), state, {"TARGET_URL": target.url})
    try:
        assert runner.run("orders", "measured").outcome is Outcome.SUCCESS
        target.proxy.down()
        down = runner.run("orders", "measured")
        # A client may not have noticed the closed socket yet and wait out its timeout instead:
        # either way the run fails visibly and the value becomes unknown.
        assert down.outcome in (Outcome.ERROR, Outcome.TIMEOUT), down.error
        assert set(stored(state)) == {None}  # unknown, never frozen at the last value
        assert "guest" not in (down.error or "") and "TARGET_URL" not in (down.error or "")
        target.proxy.up()
        back = runner.run("orders", "measured")
        assert back.outcome is Outcome.SUCCESS, back.error
        assert values(back) == target.expected
    finally:
        runner.close()


def test_hanging_target_times_out_and_recovers(target: Target, tmp_path: Path, state: Engine) -> None:
    runner, _ = runner_for(model_for(target, tmp_path / "m"), state, {"TARGET_URL": target.url})
    try:
        assert runner.run("orders", "measured").outcome is Outcome.SUCCESS
        target.proxy.hang()
        hung = runner.run("orders", "measured")
        assert hung.outcome is Outcome.TIMEOUT, hung.error
        assert hung.duration < 4  # timeout 1s; SQL adds a 1s grace for the server's own timeout
        assert set(stored(state)) == {None}
        target.proxy.up()
        assert runner.run("orders", "measured").outcome is Outcome.SUCCESS
    finally:
        runner.close()


def test_missing_environment_variable_names_it(target: Target, tmp_path: Path, state: Engine) -> None:
    runner, _ = runner_for(model_for(target, tmp_path / "m"), state, {})
    try:
        result = runner.run("orders", "measured")
    finally:
        runner.close()
    assert result.outcome is Outcome.ERROR
    assert "environment variable TARGET_URL is not set" in (result.error or "")
