"""One real service per probe kind, behind a TcpProxy, holding a known value (contract tests)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.proxy import TcpProxy
from tests.support.services import MARIADB_URL, NATS_ADDR, RABBITMQ_ADDR, REDIS_ADDR


@dataclass
class Target:
    """Where a probe of one kind reads, what it must read, and the proxy in between."""

    signal_kind: str
    probe: str
    url: str
    expected: dict[frozenset[tuple[str, str]], float]
    proxy: TcpProxy
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def _via(proxy: TcpProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def _sql_target(admin_url: str, table: str, *, probe: str | None = None, rows: str = "") -> Target:
    parsed = make_url(admin_url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    engine = create_engine(admin_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (n INTEGER NOT NULL)"))
        conn.execute(text(f"INSERT INTO {table} VALUES (42)"))
        if rows:
            conn.execute(text(rows))
    query = probe or f"{{kind: sql, connection: target, query: 'SELECT n FROM {table}', timeout: 1s}}"

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
        engine.dispose()

    return Target("depth", query, _via(proxy, admin_url), {frozenset(): 42.0}, proxy, [drop])


def postgres(url: str) -> Target:
    return _sql_target(url, "contract_value")


def mariadb() -> Target:
    target = _sql_target(MARIADB_URL, f"contract_{uuid.uuid4().hex[:10]}")
    return target


def reconcile(url: str) -> Target:
    ddl = """
        CREATE TABLE psp (ref VARCHAR(20), currency VARCHAR(3), amount NUMERIC(12, 2));
        CREATE TABLE erp (ref VARCHAR(20), currency VARCHAR(3), amount NUMERIC(12, 2));
        INSERT INTO psp VALUES ('P-1', 'EUR', 10.00), ('P-2', 'EUR', 5.00), ('P-3', 'GBP', 8.00);
        INSERT INTO erp VALUES ('P-1', 'EUR', 10.00), ('P-3', 'GBP', 8.50);
    """
    probe = """
          kind: reconcile
          measure: mismatches
          key: ref
          timeout: 1s
          source: {kind: sql, connection: target, query: 'SELECT ref, currency, amount FROM psp'}
          target: {kind: sql, connection: target, query: 'SELECT ref, currency, amount FROM erp'}"""
    target = _sql_target(url, "contract_value", probe=probe, rows=ddl)
    target.signal_kind = "mismatches"
    expected = {
        (k, c): 0.0 for k in ("missing_in_target", "missing_in_source", "amount_mismatch") for c in ("EUR", "GBP")
    }
    expected[("missing_in_target", "EUR")] = 1
    expected[("amount_mismatch", "GBP")] = 1
    target.expected = {frozenset({("mismatch", k), ("currency", c)}): v for (k, c), v in expected.items()}
    return target


class _Stats(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        seen = getattr(self.server, "seen_authorization", [])
        seen.append(self.headers.get("authorization"))
        self.server.seen_authorization = seen  # type: ignore[attr-defined]
        body = json.dumps({"data": {"backlog": 17, "queues": [{"name": "erp"}]}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@contextmanager
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stats)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def http(server: ThreadingHTTPServer) -> Target:
    proxy = TcpProxy(("127.0.0.1", server.server_address[1]))
    probe = "{kind: http, url: '${TARGET_URL}/stats', path: '$.data.backlog', timeout: 1s}"
    return Target("depth", probe, f"http://127.0.0.1:{proxy.port}", {frozenset(): 17.0}, proxy)


def prometheus(url: str) -> Target:
    proxy = TcpProxy(("127.0.0.1", urlsplit(url).port or 9090))
    probe = "{kind: prometheus, url: '${TARGET_URL}', query: 'sum(shop_orders_waiting)', timeout: 1s}"
    return Target("depth", probe, f"http://127.0.0.1:{proxy.port}", {frozenset(): 10.0}, proxy)


def rabbitmq() -> Target:
    import pika

    queue = f"contract-{uuid.uuid4().hex}"
    connection = pika.BlockingConnection(
        pika.URLParameters(f"amqp://guest:guest@{RABBITMQ_ADDR[0]}:{RABBITMQ_ADDR[1]}/%2F")
    )
    channel = connection.channel()
    channel.queue_declare(queue)
    for n in range(4):
        channel.basic_publish("", queue, f"order {n}".encode())
    proxy = TcpProxy(RABBITMQ_ADDR)
    probe = f"{{kind: rabbitmq, connection: target, queue: {queue}, measure: ready, timeout: 1s}}"

    def drop() -> None:
        channel.queue_delete(queue)
        connection.close()

    return Target("depth", probe, f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F", {frozenset(): 4.0}, proxy, [drop])


def redis() -> Target:
    import redis as redis_client

    key = f"contract:{uuid.uuid4().hex}"
    client = redis_client.Redis(*REDIS_ADDR)
    client.rpush(key, *[f"order {n}" for n in range(6)])
    proxy = TcpProxy(REDIS_ADDR)
    probe = f"{{kind: redis, connection: target, key: '{key}', measure: length, timeout: 1s}}"

    def drop() -> None:
        client.delete(key)
        client.close()

    return Target("depth", probe, f"redis://127.0.0.1:{proxy.port}/0", {frozenset(): 6.0}, proxy, [drop])


def nats() -> Target:
    stream = f"CONTRACT_{uuid.uuid4().hex[:10]}"
    asyncio.run(nats_setup(stream, 3))
    proxy = TcpProxy(NATS_ADDR)
    probe = f"{{kind: nats, connection: target, stream: {stream}, consumer: erp, measure: pending, timeout: 1s}}"
    drop = lambda: asyncio.run(nats_delete(stream))  # noqa: E731
    return Target("depth", probe, f"nats://127.0.0.1:{proxy.port}", {frozenset(): 3.0}, proxy, [drop])


async def nats_setup(stream: str, messages: int) -> None:
    import nats as nats_client
    from nats.js.api import ConsumerConfig

    nc = await nats_client.connect(f"nats://{NATS_ADDR[0]}:{NATS_ADDR[1]}")
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream}.orders"])
    await js.add_consumer(stream, ConsumerConfig(durable_name="erp", ack_policy="explicit"))
    for n in range(messages):
        await js.publish(f"{stream}.orders", f"order {n}".encode())
    await nc.close()


async def nats_delete(stream: str) -> None:
    import nats as nats_client

    nc = await nats_client.connect(f"nats://{NATS_ADDR[0]}:{NATS_ADDR[1]}")
    await nc.jetstream().delete_stream(stream)
    await nc.close()
