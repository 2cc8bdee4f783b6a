"""Trace ingestion benchmark: spans/s over HTTP and in process, the bare-parse ratio, memory.

    python -m benchmarks.trace_bench           # short run, about three minutes (--rounds 1: two)
    python -m benchmarks.trace_bench --long    # memory over a 10-minute stream

Payloads are what the reference deployment's order journey sends: batches of 512 spans from the
shop (placed), the middleware (exported) and the ERP connector (accepted, a mapped span), every
order a new journey, with the usual HTTP attributes next to the business ones.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client import CollectorRegistry

from flowhealth.clock import SystemClock
from flowhealth.model import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.traces import native
from flowhealth.traces.decode import PROTOBUF

REPO = Path(__file__).resolve().parent.parent
BATCH = 512
GOAL_CPU_RATIO = 3.0  # issue 19: server CPU per span <= 3 x a receiver that only parses
GOAL_P50_MS = 3.0  # issue 19: p50 of a 512-span request
ISSUE_ANCHOR_P50_MS = 0.55  # the issue's host: the parse-only receiver's 512-span request
GOAL_MEMORY_GROWTH = 0.10
SELF = [sys.executable, "-m", "benchmarks.trace_bench"]  # RSS may grow at most 10% after warm-up


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


def request_path(data: list[bytes], db: Path, rounds: int = 6) -> dict[str, list[float]]:
    """accept_body's CPU per span, native and upb alternated: parse, extract, the inbox row; no fold.

    The folder is held off while measuring (it folds afterwards), so neither its thread nor its
    SQLite write lock is in the figure. The switch is `flowhealth.traces.records.ENABLED`, what
    FLOWHEALTH_NATIVE=0 sets at start.
    """
    from flowhealth.traces import records

    runtime = build_runtime(db)
    folder = runtime.traces._folder
    wake, folder.wake = folder.wake, lambda: None  # type: ignore[method-assign]
    gzipped = [gzip.compress(body, compresslevel=1) for body in data]
    share = len(data) // (2 * rounds)
    found: dict[str, list[float]] = {"native": [], "upb": []}
    modes = [("native", True), ("upb", False)] if records.AVAILABLE else [("upb", False)]
    try:
        for r in range(rounds):
            for i, (mode, enabled) in enumerate(modes):
                records.ENABLED = enabled
                part = range((2 * r + i) * share, (2 * r + i + 1) * share)
                cpu0 = time.thread_time()
                for n in part:
                    runtime.traces.accept_body(PROTOBUF, data[n], gzipped[n])
                found[mode].append(1e6 * (time.thread_time() - cpu0) / (len(part) * BATCH))
        folder.wake = wake  # type: ignore[method-assign]
        runtime.traces.drain()
    finally:
        records.ENABLED = records.AVAILABLE and native.WANTED
        runtime.traces.close()
    return found


def serve(kind: str, db: str, port: int) -> None:
    """Run a receiver in its own process, as in production: flowhealth's, or the parse-only anchor."""
    import uvicorn

    if kind == "parse-only":
        app = parse_only_app()
    else:
        from flowhealth.api.app import create_app
        from flowhealth.cli.common import collector_paused, settle_for_serving

        # As `flowhealth serve` does: the long-lived model and runtime are built with the cycle
        # collector off and then frozen, so later collections do not walk them again.
        with collector_paused():
            app = create_app(build_runtime(Path(db)), manage_runtime=False)
        settle_for_serving()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def parse_only_app() -> Any:
    """The anchor: the same HTTP stack, a body inflated and parsed into an ExportTraceServiceRequest, 200."""
    app = FastAPI()
    empty = ExportTraceServiceResponse().SerializeToString()

    @app.post("/v1/traces")
    async def export(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        ExportTraceServiceRequest.FromString(body)
        return Response(empty, media_type=PROTOBUF)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def quantile(values: list[float], q: float) -> float:
    """The value at rank `q` of the sorted values (NaN for none)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


@dataclass
class ReceiverRun:
    """One receiver fed the same paced stream: its CPU per span and each request's round trip."""

    kind: str
    spans: int
    seconds: float
    cpu_seconds: float
    latencies_ms: list[float]
    failures: int
    settle_seconds: float  # after the last answer, until the journeys were folded (flowhealth)

    @property
    def cpu_us_per_span(self) -> float:
        return 1e6 * self.cpu_seconds / max(1, self.spans)

    def p(self, q: float) -> float:
        return quantile(self.latencies_ms, q)


class Receiver:
    """A receiver process on a free local port."""

    def __init__(self, kind: str, db: Path) -> None:
        self.kind, self.db = kind, db
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.trace_bench", "--serve", kind, str(db), str(self.port)], cwd=REPO
        )
        _wait_for(self.port)

    def cpu(self) -> float:
        """utime + stime of the receiver process, all threads (seconds)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def waiting(self) -> int:
        """Inbox rows not folded into journeys yet (0 for the parse-only receiver)."""
        if self.kind == "parse-only":
            return 0
        with sqlite3.connect(self.db, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM span_inbox").fetchone()[0])

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def receiver_run(kind: str, data: list[bytes], db: Path, rate: float, clients: int) -> ReceiverRun:
    """Post gzip bodies at `rate` spans/s over `clients` keep-alive connections; CPU until all work is done."""
    bodies = [gzip.compress(body, compresslevel=1) for body in data]  # like the collector's default gzip
    receiver = Receiver(kind, db)
    try:
        _post_paced(receiver.port, bodies[:6], rate, clients, [], [])  # warm-up: imports, first connections
        while receiver.waiting():
            time.sleep(0.05)
        latencies: list[float] = []
        failures: list[int] = []
        cpu0, started = receiver.cpu(), time.perf_counter()
        _post_paced(receiver.port, bodies[6:], rate, clients, latencies, failures)
        answered = time.perf_counter()
        while receiver.waiting():  # the journey work after the answers is the receiver's CPU too
            time.sleep(0.01)
        done = time.perf_counter()
        cpu = receiver.cpu() - cpu0
    finally:
        receiver.close()
    return ReceiverRun(kind, (len(bodies) - 6) * BATCH, done - started, cpu, latencies, len(failures), done - answered)


@dataclass(frozen=True)
class Round:
    """The anchor and flowhealth fed the same stream one after the other: the ratio of one round."""

    anchor: ReceiverRun
    flowhealth: ReceiverRun

    @property
    def ratio(self) -> float:
        return self.flowhealth.cpu_us_per_span / self.anchor.cpu_us_per_span


def http_rounds(batches: int, rate: float, clients: int, rounds: int, work: Path) -> list[Round]:
    """Each round runs the parse-only receiver, then flowhealth's, on fresh order numbers; printed as they end."""
    done = []
    for n in range(rounds):
        runs = {}
        for kind, start in (("parse-only", 1_000_000), ("flowhealth", 2_000_000)):
            load = os.getloadavg()[0]
            data = list(payloads(start + n * 100_000 * BATCH, batches))
            run = receiver_run(kind, data, work / f"{kind}-{n}.db", rate, clients)
            runs[kind] = run
            print(
                f"    round {n + 1} {kind:11} receiver: CPU {run.cpu_us_per_span:5.2f} us/span,"
                f" {run.spans / run.seconds:8,.0f} spans/s, request p50 {run.p(0.5):6.2f} ms p99 {run.p(0.99):6.2f} ms,"
                f" failures {run.failures}, journeys folded {run.settle_seconds:.2f} s after the last answer"
                f" (load {load:.1f})"
            )
        done.append(Round(runs["parse-only"], runs["flowhealth"]))
        print(f"    round {n + 1} ratio: {done[-1].ratio:.2f} x")
    return done


def _post_paced(
    port: int, bodies: list[bytes], rate: float, clients: int, latencies: list[float], failures: list[int]
) -> None:
    every = clients * BATCH / rate  # seconds between two requests of one connection
    shares = [bodies[i::clients] for i in range(clients)]
    threads = [
        threading.Thread(target=_post_share, args=(port, share, every, i * every / clients, latencies, failures))
        for i, share in enumerate(shares)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _post_share(
    port: int, bodies: list[bytes], every: float, offset: float, latencies: list[float], failures: list[int]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"}
    next_at = time.perf_counter() + offset
    for body in bodies:
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        next_at += every
        sent = time.perf_counter()
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        latencies.append(1000 * (time.perf_counter() - sent))
        if answer.status != 200:
            failures.append(answer.status)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the receiver did not start")


def sdk_client(port: int, rate: float, seconds: float, index: int) -> None:
    """One application process: the real OpenTelemetry SDK (BatchSpanProcessor + OTLP/HTTP exporter, defaults).

    Creates `rate` business spans per second for `seconds`, flushes, and prints a JSON line: spans
    created, spans the receiver acknowledged (exports that returned SUCCESS), and the difference,
    which the SDK dropped (its queue was full while exports were slow) or failed to export.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Counting(SpanExporter):
        def __init__(self, inner: SpanExporter) -> None:
            self.inner, self.acknowledged, self.failed = inner, 0, 0
            self.seconds: list[float] = []  # each export's round trip: a slow one fills the SDK's queue

        def export(self, spans: Any) -> SpanExportResult:
            started = time.perf_counter()
            result = self.inner.export(spans)
            self.seconds.append(time.perf_counter() - started)
            if result is SpanExportResult.SUCCESS:
                self.acknowledged += len(spans)
            else:
                self.failed += len(spans)
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return self.inner.force_flush(timeout_millis)

    exporter = Counting(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
    provider = TracerProvider(resource=Resource.create({"service.name": f"shop-{index}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("trace_bench")
    cpu0, started, created = time.process_time(), time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(rate * elapsed)
        if created >= due:
            time.sleep(0.002)
            continue
        for n in range(created, due):
            span = tracer.start_span(
                "order-export placed",
                attributes={
                    "http.request.method": "POST",
                    "flowhealth.flow": "order-export",
                    "flowhealth.stage": "placed",
                    "flowhealth.entity.type": "order",
                    "flowhealth.entity.id": f"S{index}-{n}",
                },
            )
            span.end()
        created = due
    generated = time.monotonic() - started
    provider.force_flush(60_000)
    provider.shutdown()
    summary = {
        "created": created,
        "acknowledged": exporter.acknowledged,
        "failed_exports": exporter.failed,
        "rate": created / generated,
        "cpu": time.process_time() - cpu0,
        "exports": exporter.seconds,
    }
    print(json.dumps(summary), flush=True)


@dataclass
class SdkRun:
    created: int
    acknowledged: int
    failed: int
    rate: float
    client_cpu: float
    server_cpu_us: float
    load: tuple[float, float]
    export_ms: list[float]  # every export's round trip, both clients

    def export_p(self, q: float) -> float:
        return quantile(self.export_ms, q)

    @property
    def dropped(self) -> int:
        return self.created - self.acknowledged


def sdk_drops(kind: str, db: Path, processes: int, rate: float, seconds: float) -> SdkRun:
    """`processes` SDK client processes at `rate` spans/s in total against one receiver."""
    receiver = Receiver(kind, db)
    load0 = os.getloadavg()[0]
    try:
        cpu0 = receiver.cpu()
        clients = [
            subprocess.Popen(
                [*SELF, "--sdk-client", str(receiver.port), str(rate / processes), str(seconds), str(i)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        outputs = [json.loads(c.communicate(timeout=seconds + 300)[0].strip().splitlines()[-1]) for c in clients]
        while receiver.waiting():
            time.sleep(0.05)
        server_cpu = receiver.cpu() - cpu0
    finally:
        receiver.close()
    created = sum(o["created"] for o in outputs)
    return SdkRun(
        created,
        sum(o["acknowledged"] for o in outputs),
        sum(o["failed_exports"] for o in outputs),
        sum(o["rate"] for o in outputs),
        sum(o["cpu"] for o in outputs),
        1e6 * server_cpu / max(1, created),
        (load0, os.getloadavg()[0]),
        [1000 * s for o in outputs for s in o["exports"]],
    )


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
    parser.add_argument("--batches", type=int, default=240, help="export requests per phase")
    parser.add_argument("--clients", type=int, default=2, help="concurrent HTTP connections")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of the two receivers over HTTP")
    parser.add_argument("--rate", type=float, default=20_000.0, help="spans/s of the HTTP and SDK phases")
    parser.add_argument("--sdk-seconds", type=float, default=30.0, help="length of the SDK phase")
    parser.add_argument("--stream-seconds", type=float, default=45.0, help="length of the memory stream")
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "DB", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--sdk-client", nargs=4, metavar=("PORT", "RATE", "SECONDS", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    if args.sdk_client:
        port, rate, seconds, index = args.sdk_client
        sdk_client(int(port), float(rate), float(seconds), int(index))
        return
    stream_seconds = 600.0 if args.long else args.stream_seconds
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        work = Path(tmp)
        print(f"trace ingestion benchmark: {args.batches} requests x {BATCH} spans per phase, {os.cpu_count()} CPUs")
        print(f"  load average at the start: {os.getloadavg()[0]:.1f}")
        data = list(payloads(0, args.batches))
        parse_rate = bare_parse(data)
        print(f"  bare protobuf parse:   {parse_rate:12,.0f} spans/s")
        read_rate = parse_and_read(data)
        print(f"  parse + read spans:    {read_rate:12,.0f} spans/s  (informational: no storage at all)")
        floor_rate = durable_keys_floor(data, work / "floor.db")
        print(
            f"  durable span keys only: {floor_rate:11,.0f} spans/s  = {floor_rate / parse_rate:.3f} x bare parse"
            " (informational: one SQLite row per span, no Python per span)"
        )
        local_rate = in_process(data, work / "inproc.db")
        print(
            f"  in process, folded at once (SQLite): {local_rate:10,.0f} spans/s = {1e6 / local_rate:.1f} us per span"
        )
        path = request_path(data, work / "path.db")
        print(
            "  request path in process (accept_body without the fold, CPU per span, rounds alternated): "
            + "; ".join(
                f"{mode} median {statistics.median(values):.2f} us (" + " ".join(f"{v:.2f}" for v in values) + ")"
                for mode, values in path.items()
            )
            + f" (load {os.getloadavg()[0]:.1f})"
        )
        print(
            f"  over HTTP, {args.rate:,.0f} spans/s paced, gzip, {args.clients} connections,"
            f" {args.rounds} rounds alternated (the host's speed drifts between runs: each round's ratio is its own):"
        )
        rounds = http_rounds(args.batches, args.rate, args.clients, args.rounds, work)
        ratio = statistics.median(r.ratio for r in rounds)
        p50 = statistics.median(r.flowhealth.p(0.5) for r in rounds)
        anchor_p50 = statistics.median(r.anchor.p(0.5) for r in rounds)
        sdks = {}
        for kind in ("parse-only", "flowhealth"):
            sdk = sdk_drops(kind, work / f"sdk-{kind}.db", 2, args.rate, args.sdk_seconds)
            sdks[kind] = sdk
            print(
                f"  real SDK, 2 client processes, {args.rate:,.0f} spans/s for {args.sdk_seconds:g} s, {kind} receiver:"
                f" created {sdk.created:,} ({sdk.rate:,.0f}/s achieved), acknowledged {sdk.acknowledged:,},"
                f" dropped client-side {sdk.dropped:,} ({sdk.failed:,} in failed exports); receiver CPU"
                f" {sdk.server_cpu_us:.2f} us/span; exports p50 {sdk.export_p(0.5):.1f} ms, p99 {sdk.export_p(0.99):.1f} ms,"
                f" slowest {max(sdk.export_ms, default=math.nan):.0f} ms; clients' CPU {sdk.client_cpu:.1f} s"
                f" (load {sdk.load[0]:.1f} -> {sdk.load[1]:.1f})"
            )
        sdk = sdks["flowhealth"]
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
        spread = " ".join(f"{r.ratio:.2f}" for r in rounds)
        print(
            f"  goal CPU per span <= {GOAL_CPU_RATIO:g} x the parse-only receiver: {verdict(ratio <= GOAL_CPU_RATIO)}"
            f" (median {ratio:.2f} x; rounds {spread})"
        )
        print(
            f"  goal p50 of a {BATCH}-span request <= {GOAL_P50_MS:g} ms: {verdict(p50 <= GOAL_P50_MS)}"
            f" (median of the rounds {p50:.2f} ms)"
        )
        # The goal is in milliseconds of the issue's host; scaled by the anchor in this run, as
        # big_model_bench scales goal 4 (an estimate: one host's speed measured by one receiver).
        scaled = p50 * ISSUE_ANCHOR_P50_MS / anchor_p50
        print(
            f"    scaled to the issue's host by the anchor's p50 ({anchor_p50:.2f} ms here,"
            f" {ISSUE_ANCHOR_P50_MS:g} ms there): {scaled:.2f} ms, {verdict(scaled <= GOAL_P50_MS)} (an estimate)"
        )
        print(
            f"  goal 0 spans dropped by the SDK at {args.rate:,.0f} spans/s: {verdict(sdk.dropped == 0)}"
            f" ({sdk.dropped:,} of {sdk.created:,}; {sdk.rate / args.rate:.0%} of the rate achieved by the clients;"
            # On a loaded host the anchor drops too: its figure tells the host's share from flowhealth's.
            f" the parse-only receiver dropped {sdks['parse-only'].dropped:,} of {sdks['parse-only'].created:,} in this run)"
        )
        print(
            f"  goal flat memory (<= {GOAL_MEMORY_GROWTH:.0%} RSS growth after warm-up): {verdict(growth <= GOAL_MEMORY_GROWTH)} ({growth:+.1%}, {warm:.0f} -> {peak_late:.0f} MiB)"
        )
        print(f"  load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
