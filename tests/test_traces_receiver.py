"""The OTLP/HTTP receiver on a real port: the OpenTelemetry SDK exporter, OTLP JSON, every error."""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlmodel import Session, select

from flowhealth import instrument
from flowhealth.api import otlp
from flowhealth.clock import SystemClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.sqlite_writers import writer_lock
from flowhealth.store.tables import SignalValue
from tests.support.models import write_model
from tests.support.otlp import STUCK_RULE, TRACES_FLOW, business, request, serve

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    model = write_model(tmp_path / "m", TRACES_FLOW, STUCK_RULE)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", otlp_max_body_bytes=64 * 1024)
    return Runtime.build(settings, model, clock=SystemClock(), registry=CollectorRegistry(), environ={})


@pytest.fixture
def url(runtime: Runtime) -> Iterator[str]:
    with serve(runtime) as base:
        yield f"{base}/v1/traces"


def value(runtime: Runtime, signal: str) -> float | None:
    runtime.traces.refresh()
    with Session(runtime.engine) as session:
        row = session.get(SignalValue, ("orders", signal, "{}"))
    return None if row is None else row.value


def provider(service: str, url: str) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url, compression=Compression.Gzip)))
    return tp


def test_the_sdk_exporter_with_gzip_feeds_a_journey_across_three_services(runtime: Runtime, url: str) -> None:
    shop, middleware, erp = provider("shop", url), provider("middleware", url), provider("erp-connector", url)
    t0 = time.time_ns() - 600_000_000_000  # explicit times make the latency exact; each system its own trace
    with instrument.stage("orders", "placed", "O-77", tracer=shop.get_tracer("shop")):
        pass
    for tp, stage, end in ((shop, "placed", 0), (middleware, "exported", 20), (erp, None, 125)):
        span = tp.get_tracer("t").start_span("SalesOrder.create" if stage is None else f"orders {stage}", start_time=t0)
        if stage is None:
            span.set_attribute("erp.ref", "O-78")
        else:
            for key, val in (
                ("flowhealth.flow", "orders"),
                ("flowhealth.stage", stage),
                ("flowhealth.entity.id", "O-78"),
            ):
                span.set_attribute(key, val)
        span.end(end_time=t0 + end * 1_000_000_000)
    for tp in (shop, middleware, erp):
        tp.shutdown()
    assert value(runtime, "latency") == 125.0
    assert value(runtime, "export_latency") == 20.0
    assert value(runtime, "in_flight") == 1.0  # O-77 was placed a moment ago and waits
    assert runtime.registry.get_sample_value("flowhealth_trace_spans_total", {"outcome": "accepted"}) == 4.0
    assert runtime.registry.get_sample_value("flowhealth_otlp_requests_total", {"code": "200"}) == 4.0


def test_hand_written_otlp_json_with_hex_ids_and_unknown_fields(runtime: Runtime, url: str) -> None:
    t0 = time.time_ns() - 600_000_000_000

    def span(span_id: str, stage: str, end: int) -> dict[str, object]:
        return {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": span_id,
            "name": f"orders {stage}",
            "kind": 2,
            "startTimeUnixNano": str(t0),
            "endTimeUnixNano": str(end),
            "attributes": [
                {"key": "flowhealth.flow", "value": {"stringValue": "orders"}},
                {"key": "flowhealth.stage", "value": {"stringValue": stage}},
                {"key": "flowhealth.entity.id", "value": {"intValue": "4711"}},
            ],
            "status": {"code": 1},
            "aNewFieldFromTheFuture": {"x": 1},
        }

    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "shop"},
                        "spans": [
                            span("eee19b7ec3c1b174", "placed", t0),
                            span("eee19b7ec3c1b175", "accepted", t0 + 42_000_000_000),
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "0102030405060708",
                                "name": "GET /",
                            },
                        ],
                    }
                ],
            }
        ]
    }
    answer = httpx.post(url, content=json.dumps(body), headers=JSON)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "span 'GET /'" in partial["errorMessage"]
    assert value(runtime, "latency") == 42.0


def test_protobuf_answer_is_an_export_response_and_redelivery_is_harmless(runtime: Runtime, url: str) -> None:
    payload = gzip.compress(request([business("shop", "placed", "O-9", 1_767_600_000)]).SerializeToString())
    for _ in range(2):
        answer = httpx.post(url, content=payload, headers={**PROTOBUF, "Content-Encoding": "gzip"})
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
        assert not ExportTraceServiceResponse.FromString(answer.content).HasField("partial_success")
    assert value(runtime, "in_flight") == 1.0
    assert runtime.registry.get_sample_value("flowhealth_trace_spans_total", {"outcome": "redelivered"}) == 1.0


def rpc_status(answer: httpx.Response) -> status_pb2.Status:
    if answer.headers["content-type"] == "application/x-protobuf":
        return status_pb2.Status.FromString(answer.content)
    return json_format.Parse(answer.content, status_pb2.Status())


@pytest.mark.parametrize(
    ("headers", "body", "fragment"),
    [
        (PROTOBUF, b"\xff\xff\xff not protobuf", "not an OTLP protobuf"),
        (JSON, b"{not json", "not JSON"),
        (
            JSON,
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            "traceId must be 32 hex digits",
        ),
        (JSON, b'{"resourceSpans": 3}', "resourceSpans must be an array of ResourceSpans, not a number"),
        # OTLP/JSON is stricter than proto3 JSON: no null for lists or objects, enums as integers.
        (JSON, b'{"resourceSpans": null}', "resourceSpans must be an array of ResourceSpans, not null"),
        (JSON, b'{"resourceSpans": [{"resource": []}]}', "resourceSpans[0].resource must be an object"),
        (
            JSON,
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SERVER"}]}]}]}',
            "spans[0].kind must be an integer",
        ),
        (
            JSON,
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"status": {"code": "ERROR"}}]}]}]}',
            "status.code must be an integer",
        ),
        (JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "00ff"}]}]}]}', "spanId must be 16 hex"),
        (JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"links": {}}]}]}]}', "links must be an array of Link"),
        (JSON, b"[]", "not an OTLP JSON ExportTraceServiceRequest object"),
        ({**PROTOBUF, "Content-Encoding": "gzip"}, b"\x1f\x8b broken", "gzip"),
        ({**PROTOBUF, "Content-Encoding": "gzip"}, gzip.compress(b"abc")[:-4], "truncated"),
    ],
)
def test_malformed_bodies_get_400_with_a_google_rpc_status(
    url: str, headers: dict[str, str], body: bytes, fragment: str
) -> None:
    answer = httpx.post(url, content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == headers["Content-Type"]
    status = rpc_status(answer)
    assert status.code == 3 and fragment in status.message


def test_wrong_method_is_405(url: str) -> None:
    answer = httpx.get(url)
    assert answer.status_code == 405 and "POST" in answer.headers["allow"]


@pytest.mark.parametrize("headers", [{"Content-Type": "text/plain"}, {}, {**PROTOBUF, "Content-Encoding": "br"}])
def test_unknown_media_types_and_encodings_are_415(url: str, headers: dict[str, str]) -> None:
    answer = httpx.post(url, content=b"x", headers=headers)
    assert answer.status_code == 415
    assert rpc_status(answer).message


def test_bodies_over_the_limit_are_413_even_as_a_zip_bomb(url: str) -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MiB that compress to ~50 KiB
    assert len(bomb) < 64 * 1024
    answer = httpx.post(url, content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert rpc_status(answer).code == 8
    assert httpx.post(url, content=b"\0" * (65 * 1024), headers=PROTOBUF).status_code == 413


def test_overload_is_429_with_retry_after(runtime: Runtime, url: str) -> None:
    taken = 0
    while runtime.traces.gate.enter():  # fill the gate as concurrent exports would
        taken += 1
    try:
        answer = httpx.post(url, content=request([]).SerializeToString(), headers=PROTOBUF)
    finally:
        for _ in range(taken):
            runtime.traces.gate.leave()
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
    assert rpc_status(answer).code == 8
    assert httpx.post(url, content=b"", headers=PROTOBUF).status_code == 200


def test_a_failing_state_database_is_503_with_retry_after(runtime: Runtime, url: str) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(text("DROP TABLE span_inbox"))
    answer = httpx.post(
        url, content=request([business("shop", "placed", "O-1", 1.0)]).SerializeToString(), headers=PROTOBUF
    )
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert rpc_status(answer).code == 14


def test_concurrent_exports_of_the_same_spans_count_once(runtime: Runtime, url: str) -> None:
    payload = request([business("shop", "placed", f"O-{i}", 1_767_600_000) for i in range(50)]).SerializeToString()
    codes: list[int] = []

    def send() -> None:
        codes.append(httpx.post(url, content=payload, headers=PROTOBUF).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(codes) <= {200, 429} and 200 in codes
    assert value(runtime, "in_flight") == 50.0


def test_instrument_records_errors_as_rejections(runtime: Runtime, url: str) -> None:
    tp = provider("middleware", url)
    tracer = tp.get_tracer("mw")

    @instrument.stage_of("orders", "exported", entity="order", tracer=tracer)
    def export(order: str) -> None:
        raise ConnectionError("ERP unreachable")

    with pytest.raises(ConnectionError):
        export("O-5")
    with instrument.stage("orders", "placed", "O-6", tracer=tracer) as mark:
        mark.rejected("missing tax code")
    tp.shutdown()
    runtime.traces.refresh()
    with Session(runtime.engine) as session:
        rows = session.exec(select(SignalValue).where(SignalValue.signal == "rejections")).all()
    assert sorted((r.labels, r.value) for r in rows) == [
        ('{"reason":"ConnectionError","stage":"exported"}', 1.0),
        ('{"reason":"missing tax code","stage":"placed"}', 1.0),
    ]


def journeys_stored(runtime: Runtime) -> int:
    runtime.traces.drain()
    with runtime.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM journey")).scalar_one())


def post_in_background(url: str, payload: bytes) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    sender = threading.Thread(
        target=lambda: codes.append(httpx.post(url, content=payload, headers=PROTOBUF).status_code)
    )
    sender.start()
    return sender, codes


def assert_answers_at_once(url: str) -> None:
    """The service answers another request while an export waits: its event loop is not the one waiting."""
    started = time.monotonic()
    assert httpx.get(url.replace("/v1/traces", "/healthz"), timeout=5).status_code == 200
    assert time.monotonic() - started < 1.0


def test_an_export_that_finds_the_writer_busy_waits_for_it_off_the_event_loop(
    runtime: Runtime, url: str, tmp_path: Path
) -> None:
    # Small exports are stored on the event loop when SQLite's writer is free; when this process's
    # other writer holds it, the export waits on a worker thread and the service keeps answering.
    payload = request([business("shop", "placed", f"O-{i}", 1_767_600_000) for i in range(20)]).SerializeToString()
    lock = writer_lock(str(tmp_path / "state.db"))
    assert lock.acquire(5)
    try:
        sender, codes = post_in_background(url, payload)
        time.sleep(0.3)
        assert sender.is_alive() and not codes  # waiting for the writer, not failed
        assert_answers_at_once(url)
    finally:
        lock.release()
    sender.join(10)
    assert codes == [200]
    assert journeys_stored(runtime) == 20


def test_an_export_that_finds_another_process_writing_is_stored_once_it_is_done(
    runtime: Runtime, url: str, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)  # SQLite's own lock, as a CLI's
    other.execute("BEGIN IMMEDIATE")
    try:
        payload = request([business("shop", "placed", "O-1", 1_767_600_000)]).SerializeToString()
        sender, codes = post_in_background(url, payload)
        time.sleep(0.3)
        assert sender.is_alive() and not codes
        assert_answers_at_once(url)
    finally:
        other.execute("ROLLBACK")
        other.close()
    sender.join(10)
    assert codes == [200]
    assert journeys_stored(runtime) == 1


def test_an_export_too_large_for_the_event_loop_is_read_on_a_worker(
    runtime: Runtime, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp, "ON_LOOP_BYTES", 1024)
    spans = [business("shop", "placed", f"O-{i}", 1_767_600_000) for i in range(30)]
    plain = request(spans[:15]).SerializeToString()
    gzipped = gzip.compress(request(spans[15:]).SerializeToString())
    assert len(plain) > 1024 and len(gzipped) < 1024 < len(gzip.decompress(gzipped))
    assert httpx.post(url, content=plain, headers=PROTOBUF).status_code == 200
    assert httpx.post(url, content=gzipped, headers={**PROTOBUF, "Content-Encoding": "gzip"}).status_code == 200
    assert journeys_stored(runtime) == 30
