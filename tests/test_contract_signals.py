"""Contract violations counted by field and reason: a contract probe against real PostgreSQL, and
spans sent by the OpenTelemetry SDK exporter; the alert names the contract version and shows the
failing payload redacted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from flowhealth.clock import FakeClock, SystemClock
from flowhealth.evidence_pack.markdown import render_markdown
from flowhealth.evidence_pack.pack import build_pack
from flowhealth.links import Links
from flowhealth.model import Model
from flowhealth.notify.base import Delivery
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.outbox import ThreadRef
from flowhealth.store.tables import SignalValue
from flowhealth.store.types import labels_of
from tests.support.otlp import serve

REPO = Path(__file__).resolve().parent.parent
LINKS = Links("http://localhost:8000", "http://localhost:3000")
EXAMPLE: dict[str, Any] = json.loads((REPO / "contracts/erp-sales-order.example.json").read_text())


class Capture:
    """Keeps every delivery, delivers nothing."""

    min_interval_per_channel = 0.0

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        self.deliveries.append(delivery)
        return thread or ThreadRef("C1", delivery.dedup_key)


def payload(number: int, **changes: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(EXAMPLE))
    doc["order_number"] = f"SO-{number}"
    doc["customer"]["email"] = f"buyer{number}@example.com"
    for path, value in changes.items():
        part, key = path.split("__")
        if value is None:
            del doc[part][key]
        else:
            doc[part][key] = value
    return doc


def values(engine: Any, signal: str) -> dict[tuple[str, str], float]:
    with Session(engine) as session:
        rows = session.exec(select(SignalValue).where(SignalValue.signal == signal)).all()
    out = {}
    for row in rows:
        labels = labels_of(row.labels)
        if row.value is not None:
            out[(labels["field"], labels["reason"])] = row.value
    return out


def test_a_contract_probe_counts_violations_in_postgresql_and_the_alert_shows_them_redacted(
    reference_model: Model, postgres_url: str, tmp_path: Path
) -> None:
    shop = create_engine(postgres_url)
    clock = FakeClock()
    now = clock.now().timestamp()
    rows = [payload(100000)]  # conforms
    rows += [payload(100001 + i, customer__email=f"buyer{i}-at-example.com") for i in range(12)]
    rows += [payload(100100, shipping_address__postal_code=None, shipping_address__country="de")]
    with shop.begin() as conn:
        conn.execute(text("CREATE TABLE erp_outbound_payloads (order_number text, payload jsonb, sent_at float8)"))
        for doc in rows:
            conn.execute(
                text("INSERT INTO erp_outbound_payloads VALUES (:n, CAST(:p AS jsonb), :t)"),
                {"n": doc["order_number"], "p": json.dumps(doc), "t": now - 60},
            )
    shop.dispose()
    capture = Capture()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    rt = Runtime.build(
        settings,
        reference_model,
        clock=clock,
        registry=CollectorRegistry(),
        environ={"COMMERCE_DB_URL": postgres_url},
        notifier=capture,
    )
    try:
        result = rt.runner.run("order-export", "contract_violations")
        assert result.outcome.value == "success", result.error
        assert values(rt.engine, "contract_violations") == {
            ("customer.email", "format"): 12.0,
            ("shipping_address.country", "pattern"): 1.0,
            ("shipping_address.postal_code", "required"): 1.0,
        }
        rt.evaluate_and_deliver()
        pack = render_markdown(build_pack(reference_model, rt.engine, LINKS, "order-export", clock.now()))
    finally:
        rt.stop()
    [opened] = [d for d in capture.deliveries if d.kind == "open"]
    assert opened.message.view is not None
    [alert] = opened.message.view.alerts
    assert alert.rule == "order-contract-violations"
    assert alert.labels == {"field": "customer.email", "reason": "format"}
    evidence = alert.evidence
    assert evidence is not None
    assert evidence.columns == ["order_number", "violations", "contract", "payload (redacted)"]
    assert {row[2] for row in evidence.rows} == {"erp-sales-order v2.1.0"}
    shown = evidence.model_dump_json()
    assert "SO-100001" in shown and "customer.email: format" in shown
    assert "[redacted]" in shown
    assert "-at-example.com" not in shown and "Jane Doe" not in shown and "Hauptstrasse" not in shown
    # The evidence pack keeps the last alert's failing payloads, redacted, beside the current counts.
    contract = pack.split("## Contract\n", 1)[1].split("\n## ", 1)[0]
    assert "| contract_violations | customer.email | format | 12 |" in contract
    assert "Failing payloads (redacted) of the last alert, `order-contract-violations`" in contract
    assert "SO-100001" in contract and "[redacted]" in contract and "-at-example.com" not in contract


@pytest.fixture
def trace_runtime(reference_model: Model, tmp_path: Path) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    return Runtime.build(settings, reference_model, clock=SystemClock(), registry=CollectorRegistry(), environ={})


def test_spans_from_the_sdk_exporter_count_violations_of_their_payload(trace_runtime: Runtime) -> None:
    with serve(trace_runtime) as base:
        erp = TracerProvider(resource=Resource.create({"service.name": "erp-connector"}))
        erp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
        tracer = erp.get_tracer("erp-connector")
        docs = [
            payload(200001),
            payload(200002, shipping_address__country="de"),
            payload(200003, shipping_address__country="at"),
            payload(200004, customer__email=None),
        ]
        for doc in docs:
            with tracer.start_as_current_span("SalesOrder.create") as span:
                span.set_attribute("erp.sales_order.external_ref", doc["order_number"])
                span.set_attribute("erp.sales_order.payload", json.dumps(doc))
        with tracer.start_as_current_span("SalesOrder.create") as span:
            span.set_attribute("erp.sales_order.external_ref", "SO-200005")
            span.set_attribute("erp.sales_order.payload", "<order>not json</order>")
        erp.shutdown()
    deadline = time.monotonic() + 5
    while True:
        trace_runtime.traces.refresh()
        found = values(trace_runtime.engine, "journey_contract_violations")
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found == {
        ("shipping_address.country", "pattern"): 2.0,
        ("customer.email", "required"): 1.0,
        ("$", "json"): 1.0,
    }
