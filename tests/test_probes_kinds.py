"""What each kind measures beyond one number: stream lag and ages, consumers, acks, paths, labels."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.probes.base import Outcome
from flowhealth.probes.connections import ConnectionPools
from flowhealth.probes.registry import ProbeContext
from flowhealth.probes.runner import ProbeRunner, RunResult
from flowhealth.store.db import init_schema, make_engine
from tests.support import targets
from tests.support.models import ORDERS_FLOW, write_model
from tests.support.prometheus import running_prometheus
from tests.support.services import MARIADB_URL, NATS_ADDR, RABBITMQ_ADDR, REDIS_ADDR, need, need_tool, port_open

FLOW = (
    """
connections:
  target: {{url: "${{TARGET_URL}}"}}
"""
    + ORDERS_FLOW
    + """"""
)


def model(root: Path, **probes: str) -> Model:
    body = "".join(
        f"      {name}:\n        kind: {'consumers' if 'consumers' in probe else 'depth'}\n"
        f"        description: x\n        probe: {probe}\n"
        for name, probe in probes.items()
    )
    return write_model(root, FLOW.format() + body)


def run_all(root: Path, environ: dict[str, str], **probes: str) -> dict[str, RunResult]:
    m = model(root / "m", **probes)
    state = make_engine(f"sqlite:///{root / 'state.db'}")
    init_schema(state)
    runner = ProbeRunner(
        m, state, FakeClock(), Metrics(CollectorRegistry()), ProbeContext(ConnectionPools(m.connections, environ))
    )
    try:
        return {name: runner.run("orders", name) for name in probes}
    finally:
        runner.close()


@pytest.fixture
def stream() -> Iterator[tuple[object, str]]:
    need(port_open(*REDIS_ADDR), "Redis")
    import redis

    client = redis.Redis(*REDIS_ADDR, decode_responses=True)
    key = f"orders:{uuid.uuid4().hex}"
    yield client, key
    client.delete(key)
    client.close()


def test_redis_stream_lag_pending_and_ages(stream: tuple[object, str], tmp_path: Path) -> None:
    client, key = stream
    now_ms = int(time.time() * 1000)
    # Entry IDs carry the time they were added: ten minutes ago, five minutes ago, now.
    for offset, order in ((600_000, "SO-1"), (300_000, "SO-2"), (0, "SO-3")):
        client.xadd(key, {"order": order}, id=f"{now_ms - offset}-0")  # type: ignore[attr-defined]
    client.xgroup_create(key, "erp", id="0")  # type: ignore[attr-defined]
    client.xreadgroup("erp", "worker-1", {key: ">"}, count=1)  # SO-1 delivered, never acked  # type: ignore[attr-defined]
    probe = "{{kind: redis, connection: target, key: '{k}', group: erp, measure: {m}}}"
    results = run_all(
        tmp_path,
        {"TARGET_URL": "redis://127.0.0.1:6379/0"},
        lag=probe.format(k=key, m="lag"),
        pending=probe.format(k=key, m="pending"),
        pending_age=probe.format(k=key, m="oldest_pending_age"),
        waiting_age=probe.format(k=key, m="oldest_waiting_age"),
    )
    values = {name: r.readings[0].value for name, r in results.items()}
    assert values["lag"] == 2 and values["pending"] == 1
    assert values["pending_age"] == pytest.approx(600, abs=5)
    assert values["waiting_age"] == pytest.approx(300, abs=5)


def test_redis_null_lag_is_unknown_not_zero(stream: tuple[object, str], tmp_path: Path) -> None:
    client, key = stream
    ids = [client.xadd(key, {"order": f"SO-{n}"}) for n in range(3)]  # type: ignore[attr-defined]
    client.xgroup_create(key, "erp", id="0")  # type: ignore[attr-defined]
    client.xreadgroup("erp", "w", {key: ">"}, count=1)  # type: ignore[attr-defined]
    client.xdel(key, ids[1])  # a deleted entry inside the group's range: Redis cannot count the lag  # type: ignore[attr-defined]
    result = run_all(
        tmp_path,
        {"TARGET_URL": "redis://127.0.0.1:6379/0"},
        lag=f"{{kind: redis, connection: target, key: '{key}', group: erp, measure: lag}}",
    )["lag"]
    assert result.outcome is Outcome.SUCCESS
    assert result.readings[0].value is None


def test_redis_stream_measure_without_group_is_a_model_error(tmp_path: Path) -> None:
    from flowhealth.errors import ModelError

    with pytest.raises(ModelError, match="needs the consumer 'group'"):
        model(tmp_path, lag="{kind: redis, connection: target, key: k, measure: lag}")


def test_rabbitmq_ready_and_consumers_share_one_connection(tmp_path: Path) -> None:
    need(port_open(*RABBITMQ_ADDR), "RabbitMQ")
    import pika

    queue = f"orders-{uuid.uuid4().hex}"
    connection = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    channel = connection.channel()
    channel.queue_declare(queue)
    for n in range(5):
        channel.basic_publish("", queue, f"SO-{n}".encode())
    try:
        probe = "{{kind: rabbitmq, connection: target, queue: {q}, measure: {m}}}"
        environ = {"TARGET_URL": "amqp://guest:guest@127.0.0.1:5672/%2F"}
        before = run_all(tmp_path / "a", environ, consumers=probe.format(q=queue, m="consumers"))
        assert before["consumers"].readings[0].value == 0  # nobody consumes: a signal of its own
        channel.basic_qos(prefetch_count=2)
        channel.basic_consume(queue, lambda *args: None)  # takes two, never acks
        connection.process_data_events(time_limit=0.5)
        after = run_all(
            tmp_path / "b",
            environ,
            ready=probe.format(q=queue, m="ready"),
            consumers=probe.format(q=queue, m="consumers"),
        )
        # Ready excludes the two delivered-but-unacked messages; AMQP cannot report those.
        assert (after["ready"].readings[0].value, after["consumers"].readings[0].value) == (3, 1)
        missing = run_all(tmp_path / "c", environ, ready=probe.format(q=f"nope-{uuid.uuid4().hex}", m="ready"))["ready"]
        assert missing.outcome is Outcome.ERROR and "does not exist" in (missing.error or "")
    finally:
        channel.queue_delete(queue)
        connection.close()


def test_nats_pending_ack_pending_and_redelivered(tmp_path: Path) -> None:
    need(port_open(*NATS_ADDR), "NATS")
    name = f"ORDERS_{uuid.uuid4().hex[:10]}"
    asyncio.run(targets.nats_setup(name, 5))
    asyncio.run(_pull_without_ack(name, 2))
    try:
        probe = "{{kind: nats, connection: target, stream: {s}, consumer: erp, measure: {m}}}"
        results = run_all(
            tmp_path,
            {"TARGET_URL": "nats://127.0.0.1:4222"},
            pending=probe.format(s=name, m="pending"),
            ack_pending=probe.format(s=name, m="ack_pending"),
            redelivered=probe.format(s=name, m="redelivered"),
        )
        assert {k: r.readings[0].value for k, r in results.items()} == {
            "pending": 3,
            "ack_pending": 2,
            "redelivered": 0,
        }
    finally:
        asyncio.run(targets.nats_delete(name))


async def _pull_without_ack(stream: str, count: int) -> None:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222")
    subscription = await nc.jetstream().pull_subscribe(f"{stream}.orders", durable="erp", stream=stream)
    await subscription.fetch(count, timeout=2)
    await nc.close()


def test_http_headers_come_from_the_environment_and_paths_pick_values(tmp_path: Path) -> None:
    with targets.http_server() as server:
        base = f"http://127.0.0.1:{server.server_address[1]}/stats"
        results = run_all(
            tmp_path,
            {"TARGET_URL": base, "STATS_TOKEN": "s3cret"},
            backlog="{kind: http, url: '${TARGET_URL}', path: data.backlog, headers: {Authorization: 'Bearer ${STATS_TOKEN}'}}",
            queues="{kind: http, url: '${TARGET_URL}', path: data.queues.length()}",
            wrong="{kind: http, url: '${TARGET_URL}', path: 'data.queues[3].name'}",
            name="{kind: http, url: '${TARGET_URL}', path: 'data.queues[0].name'}",
        )
    assert results["backlog"].readings[0].value == 17
    assert "Bearer s3cret" in server.seen_authorization  # type: ignore[attr-defined]
    assert results["queues"].readings[0].value == 1
    assert (results["wrong"].outcome, results["wrong"].error) == (
        Outcome.INVALID,
        "$.data.queues[3] does not exist in the answer",
    )
    assert results["name"].outcome is Outcome.INVALID


def test_http_refuses_an_unverified_certificate_by_default(tmp_path: Path) -> None:
    result = run_all(
        tmp_path, {"TARGET_URL": "https://127.0.0.1:1/stats"}, backlog="{kind: http, url: '${TARGET_URL}', path: x}"
    )
    assert result["backlog"].outcome is Outcome.ERROR
    assert result["backlog"].error == "cannot reach https://127.0.0.1:1: ConnectError"


def test_prometheus_series_keep_chosen_labels(tmp_path: Path) -> None:
    need_tool("prometheus")
    with running_prometheus(tmp_path / "prom") as url:
        results = run_all(
            tmp_path,
            {"TARGET_URL": url},
            per_queue="{kind: prometheus, url: '${TARGET_URL}', query: shop_orders_waiting, label_columns: [queue]}",
            bad="{kind: prometheus, url: '${TARGET_URL}', query: 'sum(('}",
        )
    assert {r.labels["queue"]: r.value for r in results["per_queue"].readings} == {"erp-orders": 7, "erp-returns": 3}
    assert results["bad"].outcome is Outcome.ERROR and "parse error" in (results["bad"].error or "")


@pytest.fixture
def mariadb() -> Iterator[str]:
    url = make_url(MARIADB_URL)
    need(port_open(url.host or "127.0.0.1", url.port or 3306), "MariaDB")
    table = f"orders_{uuid.uuid4().hex[:10]}"
    engine = create_engine(MARIADB_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
        conn.execute(text(f"INSERT INTO {table} VALUES (1), (2)"))
    yield table
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {table}"))
    engine.dispose()


def test_mariadb_probe_is_read_only_and_times_out(mariadb: str, tmp_path: Path) -> None:
    slow = (
        "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c"
    )
    results = run_all(
        tmp_path,
        {"TARGET_URL": MARIADB_URL},
        count=f"{{kind: sql, connection: target, query: 'SELECT COUNT(*) FROM {mariadb}'}}",
        delete=f"{{kind: sql, connection: target, query: 'DELETE FROM {mariadb}'}}",
        slow=f"{{kind: sql, connection: target, query: '{slow}', timeout: 1s}}",
    )
    assert results["count"].readings[0].value == 2
    assert results["delete"].outcome is Outcome.ERROR and "READ ONLY" in (results["delete"].error or "").upper()
    assert results["slow"].outcome is Outcome.TIMEOUT and results["slow"].duration < 3
    engine = create_engine(MARIADB_URL)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {mariadb}")).scalar() == 2
    engine.dispose()
