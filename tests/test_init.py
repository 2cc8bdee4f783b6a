"""`flowhealth init` and `add flow`: each template writes a model that validates and probes real services."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.model import load_model
from flowhealth.model.runbooks import REQUIRED_SECTIONS
from tests.support import targets
from tests.support.services import MARIADB_URL, NATS_ADDR, RABBITMQ_ADDR, REDIS_ADDR, need, port_open

runner = CliRunner()

BASE = [
    "--no-interactive",
    "--team",
    "integration=#integration-alerts",
    "--system",
    "shop=commerce",
    "--system",
    "erp=erp",
]


def _cli(args: list[str], env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _init_validate_probe(root: Path, flags: list[str], env: dict[str, str], flow: str) -> str:
    _cli(["init", str(root), *BASE, *flags])
    _cli(["validate", "-m", str(root)], env)
    return _cli(["probe", "run", flow, "-m", str(root)], env)


def _tables(url: str, *statements: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def test_order_export_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    _tables(
        postgres_url,
        "CREATE TABLE orders (id int PRIMARY KEY, placed_at timestamptz NOT NULL, exported_at timestamptz)",
        "INSERT INTO orders VALUES (1, now() - interval '20 minutes', NULL), (2, now() - interval '2 hours', now())",
    )
    out = _init_validate_probe(
        tmp_path / "m", ["--template", "order-export"], {"SHOP_DB_URL": postgres_url}, "order-export"
    )
    assert "order-export/export_delay: success" in out
    assert "20m" in out  # the oldest unexported order, in human units


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    parsed = make_url(MARIADB_URL)
    need(port_open(parsed.host or "127.0.0.1", parsed.port or 3306), "MariaDB")
    yield MARIADB_URL


def test_stock_sync_on_mariadb(tmp_path: Path, mariadb_url: str) -> None:
    table = f"stock_{uuid.uuid4().hex[:8]}"
    _tables(
        mariadb_url,
        f"CREATE TABLE {table} (sku VARCHAR(20) PRIMARY KEY, synced_at DATETIME(6) NOT NULL)",
        f"INSERT INTO {table} VALUES ('A-1', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR), ('A-2', UTC_TIMESTAMP(6) - INTERVAL 3 MINUTE)",
    )
    root = tmp_path / "m"
    try:
        _cli(["init", str(root), *BASE, "--template", "stock-sync", "--database", "mysql"])
        flow_file = root / "flows/stock-sync.yaml"
        flow_file.write_text(flow_file.read_text().replace("FROM stock_levels", f"FROM {table}"))
        env = {"SHOP_DB_URL": mariadb_url}
        _cli(["validate", "-m", str(root)], env)
        out = _cli(["probe", "run", "stock-sync", "-m", str(root)], env)
    finally:
        _tables(mariadb_url, f"DROP TABLE {table}")
    assert "stock-sync/stock_staleness: success" in out
    assert "3m" in out


def test_payment_settlement_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'finance.db'}"
    _tables(
        url,
        "CREATE TABLE psp_settlements (payment_ref TEXT, amount NUMERIC, currency TEXT, settled_at TEXT)",
        "CREATE TABLE ledger_entries (payment_ref TEXT, amount NUMERIC, currency TEXT, booked_at TEXT)",
        "INSERT INTO psp_settlements VALUES ('P1', 10, 'EUR', datetime('now')), ('P2', 20, 'EUR', datetime('now'))",
        "INSERT INTO ledger_entries VALUES ('P1', 10, 'EUR', datetime('now'))",
    )
    out = _init_validate_probe(
        tmp_path / "m",
        ["--template", "payment-settlement", "--database", "sqlite"],
        {"FINANCE_DB_URL": url},
        "payment-settlement",
    )
    assert "payment-settlement/settlement_mismatches: success" in out
    assert "mismatch=missing_in_target" in out


def test_queue_on_rabbitmq(tmp_path: Path) -> None:
    need(port_open(*RABBITMQ_ADDR), "RabbitMQ")
    import pika

    queue = f"erp.orders.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    channel = connection.channel()
    channel.queue_declare(queue)
    for n in range(3):
        channel.basic_publish("", queue, f"SO-{n}".encode())
    try:
        out = _init_validate_probe(
            tmp_path / "m",
            ["--template", "queue", "--broker", "rabbitmq", "--queue", queue],
            {"BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F"},
            "order-queue",
        )
    finally:
        channel.queue_delete(queue)
        connection.close()
    assert "order-queue/queue_depth: success" in out and "3 messages" in out
    assert "order-queue/queue_consumers: success" in out and "0 consumers" in out


def test_queue_on_redis(tmp_path: Path) -> None:
    need(port_open(*REDIS_ADDR), "Redis")
    import redis

    key = f"erp-orders-{uuid.uuid4().hex[:8]}"
    client = redis.Redis(*REDIS_ADDR)
    client.rpush(key, "a", "b")
    try:
        out = _init_validate_probe(
            tmp_path / "m",
            ["--template", "queue", "--broker", "redis", "--queue", key],
            {"BROKER_URL": "redis://127.0.0.1:6379/0"},
            "order-queue",
        )
    finally:
        client.delete(key)
        client.close()
    assert "2 messages" in out


def test_queue_on_nats(tmp_path: Path) -> None:
    need(port_open(*NATS_ADDR), "NATS")
    stream = f"ORDERS_{uuid.uuid4().hex[:10]}"
    asyncio.run(targets.nats_setup(stream, 4))  # a durable consumer named `erp`, the target system
    try:
        out = _init_validate_probe(
            tmp_path / "m",
            ["--template", "queue", "--broker", "nats", "--queue", stream],
            {"BROKER_URL": "nats://127.0.0.1:4222"},
            "order-queue",
        )
    finally:
        asyncio.run(targets.nats_delete(stream))
    assert "4 messages" in out


def test_runbooks_have_every_required_section_with_prompts(tmp_path: Path) -> None:
    _cli(["init", str(tmp_path), *BASE, "--template", "order-export"])
    model = load_model(tmp_path)
    (book,) = model.runbooks.values()
    assert all(book.sections[name] for name in REQUIRED_SECTIONS)
    assert "To fill in" in book.sections["business impact"]
    assert "`integration`" in book.sections["owner"]


def test_add_flow_reuses_the_connection_and_keeps_the_model_valid(tmp_path: Path) -> None:
    _cli(["init", str(tmp_path), *BASE, "--template", "order-export"])
    _cli(["add", "flow", "--template", "stock-sync", "-m", str(tmp_path), "--no-interactive"])
    model = load_model(tmp_path)
    assert set(model.flows) == {"order-export", "stock-sync"}
    assert "connections:" not in (tmp_path / "flows/stock-sync.yaml").read_text()  # shop_db is shared
    again = runner.invoke(app, ["add", "flow", "--template", "stock-sync", "-m", str(tmp_path), "--no-interactive"])
    assert again.exit_code == 1 and "exists already" in again.output


def test_init_asks_when_interactive(tmp_path: Path) -> None:
    answers = "\n".join(
        ["erp-team", "#erp-alerts", "webshop", "commerce", "sap", "erp", "queue", "", "nats", "", "", ""]
    )
    result = runner.invoke(app, ["init", str(tmp_path), "--interactive"], input=answers + "\n")
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path)
    assert model.flows["order-queue"].owner == "erp-team"
    assert model.flows["order-queue"].targets == ["sap"]
    assert model.teams["erp-team"].slack_channel == "#erp-alerts"


def test_init_refuses_to_overwrite_a_model(tmp_path: Path) -> None:
    _cli(["init", str(tmp_path), *BASE])
    again = runner.invoke(app, ["init", str(tmp_path), *BASE])
    assert again.exit_code == 1 and "add flow" in again.output
