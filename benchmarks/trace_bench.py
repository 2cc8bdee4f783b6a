"""Trace ingestion benchmark: spans/s over HTTP and in process, the bare-parse ratio, memory.

    python -m benchmarks.trace_bench           # short run, under two minutes
    python -m benchmarks.trace_bench --long    # memory over a 10-minute stream

Payloads are what the reference deployment's order journey sends: batches of 512 spans from the
shop (placed), the middleware (exported) and the ERP connector (accepted, a mapped span), every
order a new journey, with the usual HTTP attributes next to the business ones.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import CollectorRegistry

from flowhealth.clock import SystemClock
from flowhealth.model import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.traces.decode import PROTOBUF

REPO = Path(__file__).resolve().parent.parent
BATCH = 512
GOAL_HTTP = 20_000.0
GOAL_RATIO = 0.5
GOAL_MEMORY_GROWTH = 0.10  # RSS may grow at most 10% after warm-up


def payloads(start: int, batches: int) -> Iterator[bytes]:
    """Serialized export requests; order numbers start at `start`, cycling shop, middleware, ERP."""
    now = time.time()
    for b in range(batches):
        first = start + (b // 3) * BATCH
        service, stage = (("shop", "placed"), ("middleware", "exported"), ("erp-connector", None))[b % 3]
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = service
        scope = rs.scope_spans.add()
        for i in range(first, first + BATCH):
            span = scope.spans.add()
            span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
            span.start_time_unix_nano = int((now - 1) * 1e9)
            span.end_time_unix_nano = int((now + (b % 3) * 30) * 1e9)
            span.kind = 2
            attrs = span.attributes
            attrs.add(key="http.request.method").value.string_value = "POST"
            attrs.add(key="url.path").value.string_value = "/orders"
            if stage is None:
                span.name = "SalesOrder.create"
                attrs.add(key="erp.sales_order.external_ref").value.string_value = f"O-{i}"
            else:
                span.name = f"order-export {stage}"
                for key, value in (
                    ("flowhealth.flow", "order-export"),
                    ("flowhealth.stage", stage),
                    ("flowhealth.entity.type", "order"),
                    ("flowhealth.entity.id", f"O-{i}"),
                ):
                    attrs.add(key=key).value.string_value = value
        yield req.SerializeToString()


def build_runtime(db: Path) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{db}", model_dir=REPO)
    return Runtime.build(settings, load_model(REPO), clock=SystemClock(), registry=CollectorRegistry(), environ={})


def bare_parse(data: list[bytes]) -> float:
    started = time.perf_counter()
    for body in data:
        ExportTraceServiceRequest.FromString(body)
    return len(data) * BATCH / (time.perf_counter() - started)


def parse_and_read(data: list[bytes]) -> float:
    """Parsing plus reading every span's ids, times and attributes: the least any receiver does."""
    started = time.perf_counter()
    for body in data:
        for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
            for scope in rs.scope_spans:
                for span in scope.spans:
                    _ = (
                        {kv.key: kv.value for kv in span.attributes},
                        span.trace_id,
                        span.span_id,
                        span.end_time_unix_nano,
                    )
    return len(data) * BATCH / (time.perf_counter() - started)


def durable_keys_floor(data: list[bytes], db: Path) -> float:
    """Only the durable write of one (trace id, span id) row per span, keys read beforehand.

    No Python runs per span inside the timing: it is the most any ingestion can do that records
    each span in the SQLite state database before answering, however its extraction is written.
    """
    batches = []
    for body in data:
        request = ExportTraceServiceRequest.FromString(body)
        batches.append(
            [(s.trace_id, s.span_id) for rs in request.resource_spans for sc in rs.scope_spans for s in sc.spans]
        )
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE seen (trace_id BLOB, span_id BLOB, PRIMARY KEY (trace_id, span_id)) WITHOUT ROWID")
    started = time.perf_counter()
    for keys in batches:
        conn.execute("BEGIN")
        conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", keys)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return sum(len(keys) for keys in batches) / elapsed


def in_process(data: list[bytes], db: Path) -> float:
    runtime = build_runtime(db)
    started = time.perf_counter()
    for body in data:
        runtime.traces.ingest_body(PROTOBUF, body)
    return len(data) * BATCH / (time.perf_counter() - started)


def serve(db: str, port: int) -> None:
    """Run the receiver (the benchmark starts it in its own process, as in production)."""
    import uvicorn

    from flowhealth.api.app import create_app

    app = create_app(build_runtime(Path(db)), manage_runtime=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def over_http(data: list[bytes], db: Path, clients: int) -> float:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.trace_bench", "--serve", str(db), str(port)], cwd=REPO)
    try:
        _wait_for(port)
        bodies = [gzip.compress(body, compresslevel=1) for body in data]  # like the collector's default gzip
        shares = [bodies[i::clients] for i in range(clients)]
        failures: list[int] = []
        started = time.perf_counter()
        threads = [threading.Thread(target=_post_all, args=(port, share, failures)) for share in shares]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        if failures:
            print(f"  warning: {len(failures)} requests failed (statuses {sorted(set(failures))})")
        return (len(data) - len(failures)) * BATCH / elapsed
    finally:
        server.terminate()
        server.wait(10)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the receiver did not start")


def _post_all(port: int, bodies: list[bytes], failures: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"}
    for body in bodies:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            failures.append(answer.status)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_stream(seconds: float, db: Path) -> tuple[list[tuple[float, float]], float]:
    """Ingest a constant stream (refreshing signals as the scheduler would); RSS samples over time."""
    runtime = build_runtime(db)
    started = time.monotonic()
    samples: list[tuple[float, float]] = []
    spans, start, last_refresh = 0, 10_000_000, 0.0
    while (elapsed := time.monotonic() - started) < seconds:
        for body in payloads(start, 30):
            runtime.traces.ingest_body(PROTOBUF, body)
            spans += BATCH
        start += 10 * BATCH
        if elapsed - last_refresh >= 5:
            runtime.traces.refresh()
            last_refresh = elapsed
        if not samples or elapsed - samples[-1][0] >= seconds / 20:
            samples.append((elapsed, rss_mib()))
    return samples, spans / (time.monotonic() - started)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="memory over a 10-minute stream")
    parser.add_argument("--batches", type=int, default=240, help="export requests per throughput phase")
    parser.add_argument("--clients", type=int, default=2, help="concurrent HTTP connections")
    parser.add_argument("--serve", nargs=2, metavar=("DB", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    stream_seconds = 600.0 if args.long else 45.0
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        work = Path(tmp)
        print(f"trace ingestion benchmark: {args.batches} requests x {BATCH} spans per phase, {os.cpu_count()} CPUs")
        data = list(payloads(0, args.batches))
        parse_rate = bare_parse(data)
        print(f"  bare protobuf parse:   {parse_rate:12,.0f} spans/s")
        read_rate = parse_and_read(data)
        print(f"  parse + read spans:    {read_rate:12,.0f} spans/s  (informational: no storage at all)")
        floor_rate = durable_keys_floor(data, work / "floor.db")
        print(
            f"  durable span keys only: {floor_rate:11,.0f} spans/s  = {floor_rate / parse_rate:.3f} x bare parse"
            " (informational: SQLite executemany, no Python per span; the ceiling of any durable ingestion)"
        )
        local_rate = in_process(data, work / "inproc.db")
        ratio = local_rate / parse_rate
        print(
            f"  in process (SQLite):   {local_rate:12,.0f} spans/s  = {ratio:.3f} x bare parse, "
            f"{local_rate / read_rate:.2f} x parse + read"
        )
        http_rate = over_http(list(payloads(1_000_000, args.batches)), work / "http.db", args.clients)
        print(f"  over HTTP (gzip, {args.clients} conns): {http_rate:9,.0f} spans/s")
        samples, stream_rate = memory_stream(stream_seconds, work / "stream.db")
        warm = samples[len(samples) // 4][1]
        peak_late = max(rss for _, rss in samples[len(samples) // 4 :])
        growth = (peak_late - warm) / warm
        print(
            f"  stream of {stream_seconds:.0f}s at {stream_rate:,.0f} spans/s: RSS "
            + " ".join(f"{r:.0f}" for _, r in samples)
            + " MiB"
        )
        print()
        print(
            f"  goal >= {GOAL_HTTP:,.0f} spans/s over HTTP: {verdict(http_rate >= GOAL_HTTP)} ({http_rate / GOAL_HTTP:.0%} of goal)"
        )
        print(
            f"  goal >= {GOAL_RATIO} x bare parse in process: {verdict(ratio >= GOAL_RATIO)} ({ratio / GOAL_RATIO:.0%} of goal)"
        )
        print(
            f"  goal flat memory (<= {GOAL_MEMORY_GROWTH:.0%} RSS growth after warm-up): {verdict(growth <= GOAL_MEMORY_GROWTH)} ({growth:+.1%}, {warm:.0f} -> {peak_late:.0f} MiB)"
        )
        if not args.long:
            print("  (memory over the 10-minute stream: --long)")


if __name__ == "__main__":
    main()
