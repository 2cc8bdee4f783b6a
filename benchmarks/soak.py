"""Soak: the whole service under steady load, with alerts firing, for minutes on end.

    python -m benchmarks.soak                     # ~3 minutes
    python -m benchmarks.soak --minutes 30        # the issue's full run
    python -m benchmarks.soak --postgres          # probe target on the local PostgreSQL
    python -m benchmarks.soak --flows 1000 --rules-per-flow 5 --journeys 100000 --minutes 30
                                                  # issue 19 goal 5: memory at 5,100 rules, 100k journeys

200 flows, each with one SQL probe every 15 s and one rule; every tenth flow also has trace
signals fed by ~2,000 spans/s of OTLP protobuf over HTTP from a separate sender process. The
service runs in this process as in production: `Runtime.start()` (scheduler: probes, evaluation
every 15 s, delivery, trace refresh) and the FastAPI app under uvicorn on a local port, with
Slack being the local Web API server from the test suite. At fixed moments the benchmark raises
the rows some probes read over their rule's threshold and times the notification end to end.

The span sender and the `/metrics` scraper (`--scrape-interval`, default every 20 s) run in
processes of their own, so the RSS and CPU printed are the service's (with uvicorn, the local
Slack server and the benchmark's own loop, which keeps little). Every 10 s it prints process CPU,
RSS, probe runs, evaluation cycle time (from `flowhealth_rule_evaluation_duration_seconds`), spans
accepted per second and the C heap (glibc malloc: in use, freed but kept); at the end the
notification latencies and a verdict: RSS flat in the second half (< 10% growth, with its slope)
and never above `--max-rss` (250 MiB). `--rules-per-flow` adds rules on each backlog at thresholds
never reached; `--journeys` starts that many journeys over HTTP before the run and never
completes them, so they stay in flight beside the stream's. `--tracemalloc-at MINUTE [MINUTE ...]`
prints what the Python heap gained between those minutes and the end (`--tracemalloc-frames N`:
grouped by tracebacks N deep, to find the caller that keeps an allocation).
"""

from __future__ import annotations

import argparse
import ctypes
import gzip
import http.client
import json
import logging
import math
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TEAMS = 20
TRACE_EVERY = 10  # every tenth flow has a `traces` block and two trace signals
THRESHOLD = 100  # the rules fire above this many waiting records
HIGH = 500  # what a crossing sets the row to
BATCH = 250  # spans per OTLP export request
SAMPLE_EVERY = 10.0
EVENT_EVERY = 15.0  # one event in each slot of this many seconds, at a random moment within the slot
PER_EVENT = 6  # flows pushed over their threshold at each event, each of a different team
TEAM_LIMIT = 3  # crossings per team within two minutes (flood control starts after five)
FLOWS_PER_FILE = 100
# 1,000 flows with 5 rules each are ~6 MiB and ~170,000 YAML values, beyond the default limits
# (a deployment that big sets FLOWHEALTH_MODEL_MAX_BYTES and FLOWHEALTH_MODEL_MAX_VALUES).
MODEL_BYTES, MODEL_VALUES = 64 * 2**20, 2_000_000
FLOW_RE = re.compile(r"\bflow-\d{3,}\b")

RUNBOOK = """# Soak

## Owner
`team-00` owns this.

## Business impact
Records wait.

## Likely causes
The target is slow.

## Recovery steps
Drain the backlog.

## Escalation path
Call the leads.
"""


def flow_id(n: int) -> str:
    return f"flow-{n:03d}"


def trace_flows(flows: int) -> list[str]:
    return [flow_id(n) for n in range(0, flows, TRACE_EVERY)]


def write_part(root: Path, index: int, flows: list[str], rules: list[str]) -> None:
    """One file of flows and one of rules; empties the lists."""
    (root / "flows" / f"soak-{index:02d}.yaml").write_text("flows:\n" + "\n".join(flows) + "\n")
    (root / "alert_rules" / f"soak-{index:02d}.yaml").write_text("rules:\n" + "\n".join(rules) + "\n")
    flows.clear()
    rules.clear()


def rule_count(flows: int, rules_per_flow: int) -> int:
    """Rules on each flow's backlog, plus the in-flight rule of every trace flow."""
    return flows * rules_per_flow + len(trace_flows(flows))


def write_model(
    root: Path, url: str, flows: int, probe_interval: float, rules_per_flow: int = 1, horizon_minutes: int = 60
) -> Any:
    """The soak model as real YAML, loaded by the real loader.

    Each flow has `rules_per_flow` rules on its backlog: `backlog-<flow>` fires at the crossings, the
    others (`depth<k>-<flow>`) watch higher thresholds the benchmark never reaches, so they are
    evaluated every cycle without adding notifications.
    """
    from flowhealth.model import load_model
    from flowhealth.model.files import ModelLimits

    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    teams = "\n".join(f'  team-{t:02d}:\n    slack_channel: "#team-{t:02d}"' for t in range(TEAMS))
    (root / "flows" / "teams.yaml").write_text(
        f"teams:\n{teams}\nsystems:\n"
        "  shop: {name: Shop, kind: commerce, owner: team-00}\n  erp: {name: ERP, kind: erp, owner: team-00}\n"
    )
    every = f"{probe_interval:g}s"
    (root / "flows" / "connections.yaml").write_text(f'connections:\n  soak_db: {{url: "{url}", pool_size: 8}}\n')
    parts: list[str] = []
    rules: list[str] = []
    for n in range(flows):
        if n % FLOWS_PER_FILE == 0 and n:  # files stay under the loader's size limit
            write_part(root, n // FLOWS_PER_FILE - 1, parts, rules)
        flow = flow_id(n)
        parts.append(
            f"  {flow}:\n    description: Soak flow {n}.\n    object: order\n    source_of_truth: shop\n"
            f"    targets: [erp]\n    pattern: queue\n    latency_class: same-day\n    owner: team-{n % TEAMS:02d}\n"
            f"    signals:\n      backlog:\n        kind: depth\n        description: Records of flow {n} waiting.\n"
            f"        probe:\n          kind: sql\n          connection: soak_db\n"
            f"          query: \"SELECT waiting FROM soak_backlog WHERE flow = '{flow}'\"\n"
            f"          interval: {every}\n          timeout: 5s"
        )
        rules.append(
            f"  backlog-{flow}:\n    flow: {flow}\n    signal: backlog\n    above: {THRESHOLD}\n    severity: warning\n"
            f'    summary: "{{{{ value | number }}}} records of {flow} wait"\n    business_impact: Records wait.\n'
            "    runbook: soak"
        )
        for k in range(1, rules_per_flow):
            rules.append(
                f"  depth{k}-{flow}:\n    flow: {flow}\n    signal: backlog\n    above: {HIGH * 10 * k}\n"
                f"    severity: {'critical' if k % 2 else 'warning'}\n"
                f'    summary: "{{{{ value | number }}}} records of {flow} wait (level {k})"\n'
                "    business_impact: Records wait.\n    runbook: soak"
            )
        if n % TRACE_EVERY == 0:
            parts.append(
                "      in_flight:\n        kind: records\n        description: Orders between placed and accepted.\n"
                f"        probe: {{kind: trace, measure: in_flight, interval: {every}}}\n"
                "      journey_latency:\n        kind: delay\n        description: p95 placed to accepted.\n"
                "        probe: {kind: trace, measure: latency, from: placed, to: accepted, statistic: p95,"
                f" window: 5m, interval: {every}}}\n"
                f"    traces:\n      stages: [placed, accepted]\n      horizon: {horizon_minutes}m\n      keep_completed: 5m"
            )
            rules.append(
                f"  in-flight-{flow}:\n    flow: {flow}\n    signal: in_flight\n    above: 1000000\n    severity: warning\n"
                f'    summary: "{{{{ value | number }}}} orders of {flow} in flight"\n'
                "    business_impact: Orders wait.\n    runbook: soak"
            )
    write_part(root, (flows - 1) // FLOWS_PER_FILE, parts, rules)
    (root / "runbooks" / "soak.md").write_text(RUNBOOK)
    return load_model(root, ModelLimits(model_bytes=MODEL_BYTES, model_values=MODEL_VALUES))


# --- the probe target --------------------------------------------------------------------------


def baseline(n: int) -> int:
    return n % 50


class Target:
    """The table the probes read: one row per flow with its number of waiting records."""

    def __init__(self, work: Path, flows: int, postgres: bool) -> None:
        from sqlalchemy import create_engine, text

        self._admin_db: str | None = None
        if postgres:
            from sqlalchemy.engine import make_url
            from tests.support.services import POSTGRES_ADMIN_URL

            admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            name = f"flowhealth_soak_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self._admin_db = name
            self.url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        else:
            self.url = f"sqlite:///{work / 'target.db'}"
        self.engine = create_engine(self.url)
        with self.engine.begin() as conn:
            if not postgres:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # readers never wait for the benchmark's writes
            conn.execute(text("CREATE TABLE soak_backlog (flow VARCHAR(16) PRIMARY KEY, waiting INTEGER NOT NULL)"))
            conn.execute(
                text("INSERT INTO soak_backlog (flow, waiting) VALUES (:flow, :waiting)"),
                [{"flow": flow_id(n), "waiting": baseline(n)} for n in range(flows)],
            )

    def set(self, values: dict[str, int]) -> float:
        """Write the rows; returns the moment the change was committed (epoch seconds)."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(
                text("UPDATE soak_backlog SET waiting = :waiting WHERE flow = :flow"),
                [{"flow": f, "waiting": v} for f, v in values.items()],
            )
            at = time.time()  # taken before the commit: latencies are never flattered
            conn.commit()
        return at

    def close(self) -> None:
        self.engine.dispose()
        if self._admin_db is not None:
            from sqlalchemy import create_engine, text
            from tests.support.services import POSTGRES_ADMIN_URL

            admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._admin_db}" WITH (FORCE)'))
            admin.dispose()


# --- the span sender (its own process) -----------------------------------------------------------


class SpanSource:
    """Export requests of order journeys: half the spans start journeys, half complete them ~5 s later."""

    def __init__(self, flows: list[str]) -> None:
        self._flows = flows
        self._next = 0
        self._placed: deque[tuple[float, str, int]] = deque(maxlen=200_000)
        self._lock = threading.Lock()

    def body(self) -> bytes:
        now = time.time()
        with self._lock:
            accepted: list[tuple[str, int]] = []
            while self._placed and len(accepted) < BATCH // 2 and self._placed[0][0] <= now - 5:
                _, flow, order = self._placed.popleft()
                accepted.append((flow, order))
            placed = []
            for _ in range(BATCH - len(accepted)):
                flow = self._flows[self._next % len(self._flows)]
                placed.append((flow, self._next))
                self._placed.append((now, flow, self._next))
                self._next += 1
        spans = [(flow, "placed", f"O-{order}") for flow, order in placed]
        spans += [(flow, "accepted", f"O-{order}") for flow, order in accepted]
        return export_body(spans, now)


def export_body(spans: list[tuple[str, str, str]], now: float) -> bytes:
    """A gzip OTLP/HTTP protobuf body with one business span per (flow, stage, order id)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "shop"
    scope = rs.scope_spans.add()
    for flow, stage, order in spans:
        span = scope.spans.add()
        span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
        span.start_time_unix_nano = int((now - 0.05) * 1e9)
        span.end_time_unix_nano = int(now * 1e9)
        span.name = f"{flow} {stage}"
        span.kind = 2
        attrs = span.attributes
        attrs.add(key="http.request.method").value.string_value = "POST"
        for key, value in (
            ("flowhealth.flow", flow),
            ("flowhealth.stage", stage),
            ("flowhealth.entity.type", "order"),
            ("flowhealth.entity.id", order),
        ):
            attrs.add(key=key).value.string_value = value
    return gzip.compress(req.SerializeToString(), compresslevel=1)


def hold_journeys(port: int, count: int, flows: list[str], batch: int = 1000) -> float:
    """Start `count` journeys that never complete (`placed` only, order ids `H-<n>`); returns seconds taken.

    Posted over HTTP as the sender does, before the run: they stay in flight for the whole run (the
    model's horizon is longer than the run), beside the sender's journeys that complete after ~5 s.
    """
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    status: int | str = ""
    try:
        for first in range(0, count, batch):
            spans = [(flows[n % len(flows)], "placed", f"H-{n}") for n in range(first, min(count, first + batch))]
            body = export_body(spans, time.time())
            for _attempt in range(60):
                try:
                    conn.request("POST", "/v1/traces", body=body, headers=headers)
                    answer = conn.getresponse()
                    answer.read()
                    status = answer.status
                except (OSError, http.client.HTTPException) as exc:
                    # uvicorn closes a keep-alive connection idle for 5 s (a slow, traced run): open another.
                    status = type(exc).__name__
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    continue
                if status == 200:
                    break
                time.sleep(0.5)  # 429/503 while the service is busy: come back, as an exporter would
            else:
                raise RuntimeError(f"the service kept refusing held journeys ({status})")
    finally:
        conn.close()
    return time.monotonic() - started


def send(port: int, rate: float, seconds: float, flows: list[str], connections: int = 2) -> None:
    """Post `rate` spans/s for `seconds` over keep-alive connections; print a JSON summary line."""
    source = SpanSource(flows)
    parent = os.getppid()
    deadline = time.monotonic() + seconds
    every = connections * BATCH / rate  # seconds between requests of one connection
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    behind = [0]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # stop early but still print the summary

    def count(key: str) -> None:
        with lock:
            statuses[key] = statuses.get(key, 0) + 1

    def worker(offset: float) -> None:
        conn: http.client.HTTPConnection | None = None
        next_at = time.monotonic() + offset
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        while time.monotonic() < deadline and os.getppid() == parent and not stop.is_set():
            wait = next_at - time.monotonic()
            if wait > 0:
                stop.wait(wait)
                continue
            if wait < -1.0:  # more than a second behind: skip ahead rather than burst
                with lock:
                    behind[0] += int(-wait / every)
                next_at = time.monotonic()
            next_at += every
            body = source.body()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", "/v1/traces", body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                count(str(answer.status))
            except (OSError, http.client.HTTPException) as exc:
                count(type(exc).__name__)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i * every / connections,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    summary = {
        "statuses": statuses,
        "spans_sent": BATCH * sum(statuses.values()),
        "skipped_requests": behind[0],
        "cpu": usage.ru_utime + usage.ru_stime,
    }
    print(json.dumps(summary), flush=True)


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Crossing:
    flow: str
    team: int
    changed_at: float  # the rows were written (epoch seconds)
    observed_at: float | None = None  # a probe run returned the value above the threshold
    fired_at: float | None = None  # the evaluation cycle that fired the rule ended
    notified_at: float | None = None  # the Slack server stored the chat.postMessage
    reset_at: float | None = None


@dataclass
class Sample:
    t: float
    cpu_pct: float
    rss_mib: float
    load1: float
    probe_runs_s: float
    skipped: float
    cycles: float
    cycle_ms: float | None
    spans_s: float
    notified: int
    malloc_used: float | None = None
    malloc_free: float | None = None
    py_used: float | None = None
    py_free: float | None = None
    numbers: int | None = None  # number texts the exposition keeps


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def malloc_mib() -> tuple[float, float] | None:
    """C heap (glibc malloc, all arenas): bytes in use and bytes freed but kept by malloc, in MiB.

    Python objects up to 512 bytes live in pymalloc's own mmapped arenas, outside these figures;
    larger ones, SQLite's pages and the protobuf parser's memory are in them. None off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    info = libc.mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


_PYMALLOC_RE = re.compile(r"^(# bytes in allocated blocks|\d+ arenas \* \d+ bytes/arena)\s+=\s+([\d,]+)$", re.M)


def pymalloc_mib() -> tuple[float, float] | None:
    """Python's small-object heap (pymalloc, objects up to 512 bytes): MiB in use and MiB free in its arenas.

    Outside the C heap's figures; a full arena is 1 MiB and goes back to the system only when all of
    it is free, so "free" growing with "in use" flat would be fragmentation, not objects. Read from
    sys._debugmallocstats(), which writes to fd 2 (a log line of another thread in that millisecond
    would land in the scratch file).
    """
    debug = getattr(sys, "_debugmallocstats", None)
    if debug is None:
        return None
    with tempfile.TemporaryFile(mode="w+") as scratch:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(scratch.fileno(), 2)
        try:
            debug()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        scratch.seek(0)
        found = dict(_PYMALLOC_RE.findall(scratch.read()))
    used = next((int(v.replace(",", "")) for k, v in found.items() if k.startswith("# bytes")), None)
    arenas = next((int(v.replace(",", "")) for k, v in found.items() if "arenas" in k), None)
    if used is None or arenas is None:
        return None
    return used / 2**20, (arenas - used) / 2**20


def numbers_kept() -> int | None:
    """Number texts the /metrics exposition keeps (older code: one dict, `_NUMBERS`)."""
    try:
        from flowhealth import exposition
    except ImportError:
        return None
    count = getattr(exposition, "remembered_numbers", None)
    if count is not None:
        return int(count())
    numbers = getattr(exposition, "_NUMBERS", None)
    return None if numbers is None else len(numbers)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def metric_total(metric: Any, suffix: str, **labels: str) -> float:
    total = 0.0
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


class Readings:
    """Cumulative figures of the runtime, read straight from its metrics (not the whole registry)."""

    def __init__(self, runtime: Any) -> None:
        self.m = runtime.metrics

    def now(self) -> dict[str, float]:
        return {
            "wall": time.monotonic(),
            "cpu": cpu_seconds(),
            "probe_runs": metric_total(self.m.probe_runs, "_total"),
            "skipped": metric_total(self.m.probe_skipped, "_total"),
            "eval_sum": metric_total(self.m.evaluation_duration, "_sum"),
            "eval_count": metric_total(self.m.evaluation_duration, "_count"),
            "spans": metric_total(self.m.trace_spans, "_total", outcome="accepted"),
            "delivered": metric_total(self.m.notifications, "_total", outcome="delivered"),
        }


def p(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with fewer than 100 values, p99 is the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def open_journeys(engine: Any) -> int:
    """Journeys in flight in the state database: first span seen, closing span not."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM journey WHERE completed_at IS NULL").scalar_one())


def slope_per_10_min(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time, in MiB per 10 minutes."""
    ts, ys = [s.t for s in samples], [s.rss_mib for s in samples]
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    var = sum((t - mt) ** 2 for t in ts)
    return 600 * sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var if var else 0.0


class HeapDiff:
    """What the Python heap gained between moments of the run and its end (tracemalloc).

    Snapshots at each of `at` (seconds) and at the end; the report gives the growth between each
    pair of neighbouring snapshots and from the first to the last. With `frames` > 1 allocations are
    grouped by their whole traceback (up to `frames` deep, most recent call first), so an
    allocation in a library (a JSON decoder, SQLAlchemy's rows) is shown with the caller that keeps
    it; a growth that recurs between every pair of snapshots is a leak, one that stops is a cache
    filling up. Tracing costs CPU and memory of its own: RSS in such a run is higher than without it.
    """

    def __init__(self, at: list[float], frames: int = 1) -> None:
        self.points = sorted(at)
        self.frames = frames
        self.snapshots: list[tuple[float, Any]] = []
        # Tracing starts a minute before the first snapshot, not at start-up: deep tracebacks slow
        # the model load and the held journeys several times over, and growth after the first
        # snapshot is all allocated while tracing.
        self.trace_from = max(0.0, self.points[0] - 60)

    def start(self) -> None:
        import tracemalloc

        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)

    def _take(self) -> Any:
        import tracemalloc

        ignore = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap*"),
            tracemalloc.Filter(False, "<unknown>"),
        ]
        return tracemalloc.take_snapshot().filter_traces(ignore)

    def tick(self, elapsed: float) -> None:
        if elapsed >= self.trace_from:
            self.start()
        if len(self.snapshots) < len(self.points) and elapsed >= self.points[len(self.snapshots)]:
            started = time.monotonic()
            self.snapshots.append((elapsed, self._take()))
            print(
                f"tracemalloc: snapshot {len(self.snapshots)} at {elapsed:.0f} s ({time.monotonic() - started:.1f} s)",
                flush=True,
            )

    def report(self, elapsed: float, top: int = 25) -> None:
        import tracemalloc

        if not self.snapshots:
            print("tracemalloc: the run ended before the first snapshot")
            return
        self.snapshots.append((elapsed, self._take()))
        traced, peak = tracemalloc.get_traced_memory()
        print(f"tracemalloc: {traced / 2**20:.1f} MiB traced now (peak {peak / 2**20:.1f} MiB)")
        key = "traceback" if self.frames > 1 else "lineno"
        pairs = list(zip(self.snapshots, self.snapshots[1:], strict=False))
        if len(pairs) > 1:
            for (t0, s0), (t1, s1) in pairs:
                self._print(s1.compare_to(s0, key), f"{t0:.0f} s -> {t1:.0f} s", top=8)
        (t0, first), (t1, last) = self.snapshots[0], self.snapshots[-1]
        self._print(last.compare_to(first, key), f"{t0:.0f} s -> {t1:.0f} s (first to last)", top=top)

    def _print(self, diff: list[Any], title: str, top: int) -> None:
        grown = sum(s.size_diff for s in diff)
        print(f"tracemalloc: growth {title}: {grown / 2**20:+.2f} MiB in all; the largest:")
        for stat in diff[:top]:
            print(f"  {stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+8d} blocks  {stat.size / 1024:9.0f} KiB now")
            for frame in reversed(stat.traceback):  # most recent call first
                print(f"      {_short_path(frame.filename)}:{frame.lineno}")


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/benchmarks/", "/tests/", "/lib/python3"):
        if marker in filename:
            return filename[filename.index(marker) :].lstrip("/")
    return filename


def scrape(port: int, interval: float, seconds: float) -> None:
    """GET /metrics every `interval` seconds for `seconds`, as Prometheus would; print a JSON summary line.

    Its own process: reading a 3.6 MiB body and splitting it into 37,000 lines every 20 s in a
    thread of the service's process would put the scraper's memory into the RSS measured.
    """
    parent = os.getppid()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    done = failed = last_bytes = last_series = 0
    deadline = time.monotonic() + seconds
    while not stop.wait(interval) and time.monotonic() < deadline and os.getppid() == parent:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", "/metrics")
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 200:
                failed += 1
                continue
            done += 1
            last_bytes = len(body)
            last_series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        except (OSError, http.client.HTTPException):
            failed += 1
        finally:
            conn.close()
    print(json.dumps({"done": done, "failed": failed, "bytes": last_bytes, "series": last_series}), flush=True)


class Scraper:
    """The scraping process (`scrape`), started and read by the soak."""

    def __init__(self, port: int, interval: float, seconds: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak", "--scrape", str(port), str(interval), str(seconds)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> tuple[int, int, int, int] | None:
        """Stop scraping; done, failed, bytes and series of the last scrape (None if it printed nothing)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=70)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            return None
        summary = json.loads(lines[-1])
        return summary["done"], summary["failed"], summary["bytes"], summary["series"]


def start_server(app: Any) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, port


# --- the run -------------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.duration = args.minutes * 60
        self.crossings: list[Crossing] = []
        self.active: dict[str, Crossing] = {}
        self.last_reset: dict[str, float] = {}
        self.samples: list[Sample] = []
        self.cycle_times: list[float] = []
        self.sender_summary: dict[str, Any] = {}
        self._team_cursor = 0
        self._seen_messages = 0
        self.in_flight_at_end: int | None = None
        self.started = time.monotonic()  # reset when the measured loop starts
        self.scrapes: tuple[int, int, int, int] | None = None  # done, failed, bytes and series of the last
        self.heap = (
            HeapDiff([60 * m for m in args.tracemalloc_at], args.tracemalloc_frames) if args.tracemalloc_at else None
        )

    # -- wiring

    def instrument(self, runtime: Any) -> None:
        """Record when a probe sees a crossing and when the cycle that fires its rule ends."""
        evaluate = runtime.evaluator.evaluate

        def observed_run(result: Any) -> None:
            # The runner's hook, called as each scheduled probe run ends (probes run in slot groups).
            crossing = self.active.get(result.flow)
            if (
                crossing is not None
                and crossing.observed_at is None
                and result.signal == "backlog"
                and any((r.value or 0) > THRESHOLD for r in result.readings)
            ):
                crossing.observed_at = time.time()

        def timed_evaluate() -> Any:
            transitions = evaluate()
            ended = time.time()
            for t in transitions:
                if t.event == "firing" and t.rule.startswith("backlog-"):
                    crossing = self.active.get(t.rule.removeprefix("backlog-"))
                    if crossing is not None and crossing.fired_at is None:
                        crossing.fired_at = ended
            return transitions

        # Instance attributes, set before start(): the scheduler's jobs call these.
        runtime.runner.on_result = observed_run
        runtime.evaluator.evaluate = timed_evaluate

    # -- events

    def idle_flow(self, team: int, now: float) -> str | None:
        settle = self.args.probe_interval + self.args.evaluation_interval + 30  # resolved and quiet again
        candidates = [
            flow_id(n)
            for n in range(team, self.args.flows, TEAMS)
            if flow_id(n) not in self.active and now - self.last_reset.get(flow_id(n), -1e9) > settle
        ]
        return min(candidates, key=lambda f: self.last_reset.get(f, -1e9)) if candidates else None

    def cross(self, target: Target) -> int:
        now = time.time()
        chosen: list[tuple[str, int]] = []
        for _ in range(TEAMS):
            if len(chosen) == PER_EVENT:
                break
            team = self._team_cursor % TEAMS
            self._team_cursor += 1
            recent = sum(1 for c in self.crossings if c.team == team and now - c.changed_at < 120)
            flow = self.idle_flow(team, now) if recent < TEAM_LIMIT else None
            if flow is not None:
                chosen.append((flow, team))
        if not chosen:
            return 0
        # Register first (so a probe run racing the write is attributed), then write the rows.
        pending = [Crossing(flow, team, changed_at=math.inf) for flow, team in chosen]
        for c in pending:
            self.active[c.flow] = c
        at = target.set({c.flow: HIGH for c in pending})
        for c in pending:
            c.changed_at = at
            self.crossings.append(c)
        return len(pending)

    def collect_messages(self, slack: Any, target: Target, give_up: float) -> None:
        with slack.lock:
            fresh = slack.messages[self._seen_messages :]
            self._seen_messages = len(slack.messages)
            # The Slack stub runs in the service's process and keeps every call and message body;
            # drop what was read, so RSS is the service's and not the stub's log of a 30-minute run.
            slack.calls.clear()
            for message in fresh:
                message.blocks, message.metadata = [], None
        resets: dict[str, int] = {}
        for message in fresh:
            if message.thread_ts is not None or not message.text.upper().startswith("[FIRING]"):
                continue
            for flow in FLOW_RE.findall(message.text):
                crossing = self.active.get(flow)
                if crossing is not None and crossing.notified_at is None and message.received_at >= crossing.changed_at:
                    crossing.notified_at = message.received_at
                    resets[flow] = int(flow.split("-")[1])
        now = time.time()
        for flow, crossing in list(self.active.items()):
            if crossing.notified_at is None and now - crossing.changed_at > give_up:
                resets[flow] = int(flow.split("-")[1])  # counted as missing
        if resets:
            at = target.set({flow: baseline(n) for flow, n in resets.items()})
            for flow in resets:
                self.active.pop(flow).reset_at = at
                self.last_reset[flow] = at

    def strip_messages(self, slack: Any, keep: float = 300.0) -> None:
        """Empty what the Slack stub keeps of messages read: it is in the measured process, not the service.

        `collect_messages` drops a message's blocks and metadata as it reads it, but a resolve
        edits the message later (chat.update) and the stub decodes and stores its blocks again:
        a tracemalloc diff showed that JSON as the process' growth. Texts are kept `keep` seconds
        (threads and edits come sooner), then emptied; the Message objects themselves stay (~0.2
        MiB per 1,000), for the stub's lookups by ts.
        """
        cutoff = time.time() - keep
        with slack.lock:
            for message in slack.messages[: self._seen_messages]:
                message.blocks, message.metadata = [], None
                if message.received_at < cutoff:
                    message.text = ""

    # -- main loop

    def run(self) -> None:
        from prometheus_client import CollectorRegistry
        from tests.support.slack_server import SlackServer

        from flowhealth.api.app import create_app
        from flowhealth.cli.common import settle_for_serving
        from flowhealth.notify.slack import SlackNotifier
        from flowhealth.runtime import Runtime
        from flowhealth.settings import Settings

        try:
            from flowhealth.heap import tune_allocator
        except ImportError:  # older code on PYTHONPATH, run for a before/after comparison

            def tune_allocator() -> bool:
                return False

        args = self.args
        target = Target(self.work, args.flows, args.postgres)
        runtime = server = sender = scraper = None
        thread: threading.Thread | None = None
        channels = {f"C{t:08d}": f"team-{t:02d}" for t in range(TEAMS)}
        try:
            horizon = max(60, math.ceil(args.minutes) + 15)  # held journeys must not expire within the run
            model = write_model(
                self.work / "model", target.url, args.flows, args.probe_interval, args.rules_per_flow, horizon
            )
            with SlackServer(channels) as slack:
                settings = Settings(
                    database_url=f"sqlite:///{self.work / 'state.db'}",
                    model_dir=self.work / "model",
                    evaluation_interval=args.evaluation_interval,
                    delivery_interval=args.delivery_interval,
                    model_max_bytes=MODEL_BYTES,
                    model_max_values=MODEL_VALUES,
                )
                runtime = Runtime.build(
                    settings,
                    model,
                    registry=CollectorRegistry(),
                    notifier=SlackNotifier.from_token(slack.token, slack.base_url),
                    environ={},
                )
                self.instrument(runtime)
                settle_for_serving()  # the collector as `flowhealth serve` sets it
                runtime.start()
                server, thread, port = start_server(create_app(runtime, manage_runtime=False))
                print(f"service started: RSS {rss_mib():.0f} MiB", flush=True)
                if args.journeys:
                    seconds = hold_journeys(port, args.journeys, trace_flows(args.flows))
                    print(
                        f"held journeys: {args.journeys:,} started over HTTP in {seconds:.1f} s"
                        f" ({args.journeys / seconds:,.0f} spans/s); RSS now {rss_mib():.0f} MiB",
                        flush=True,
                    )
                print(f"malloc tuned by the runtime (arenas, mmap threshold): {tune_allocator()}", flush=True)
                if args.scrape_interval > 0:
                    scraper = Scraper(port, args.scrape_interval, self.duration + 120)
                sender = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.soak",
                        "--send",
                        str(port),
                        str(args.spans_per_second),
                        str(self.duration),
                        ",".join(trace_flows(args.flows)),
                    ],
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                self.loop(runtime, slack.slack, target)
                self.in_flight_at_end = open_journeys(runtime.engine)
                if scraper is not None:
                    self.scrapes = scraper.stop()
                    scraper = None
                if self.heap is not None:
                    self.heap.report(time.monotonic() - self.started)
                if sender.poll() is None:
                    sender.send_signal(signal.SIGTERM)
                out, _ = sender.communicate(timeout=30)
                lines = [line for line in out.splitlines() if line.startswith("{")]
                self.sender_summary = json.loads(lines[-1]) if lines else {}
        finally:
            if scraper is not None:
                scraper.stop()
            if sender is not None and sender.poll() is None:
                sender.kill()
                sender.wait(10)
            if server is not None:
                server.should_exit = True
            if thread is not None:
                thread.join(15)
            if runtime is not None:
                runtime.stop()
                runtime.engine.dispose()
            target.close()

    def loop(self, runtime: Any, slack: Any, target: Target) -> None:
        args = self.args
        readings = Readings(runtime)
        first_event = max(30.0, args.probe_interval + args.evaluation_interval)
        worst = args.probe_interval + args.evaluation_interval
        last_event = self.duration - (worst + 15)
        give_up = worst + 60  # a notification later than this is counted as missing
        started = self.started = time.monotonic()
        # Random moments (fixed seed): events a whole evaluation interval apart would all land at the
        # same point of the evaluation cycle and measure one latency over and over.
        jitter = random.Random(8)
        slot = first_event
        next_event, next_sample = slot + jitter.uniform(0, EVENT_EVERY), SAMPLE_EVERY
        previous = readings.now()
        self.print_header()
        # Bounded: the run, then at most `give_up` seconds for notifications still on their way.
        hard_stop = self.duration + give_up
        while (elapsed := time.monotonic() - started) < hard_stop:
            if elapsed >= self.duration and not self.active:
                break
            if next_event <= elapsed <= last_event:
                self.cross(target)
                slot += EVENT_EVERY
                next_event = slot + jitter.uniform(0, EVENT_EVERY)
            self.collect_messages(slack, target, give_up)
            if self.heap is not None:
                self.heap.tick(elapsed)
            if elapsed >= next_sample:
                self.strip_messages(slack)
                current = readings.now()
                self.sample(elapsed, previous, current)
                previous = current
                next_sample += SAMPLE_EVERY
            time.sleep(0.1)

    def sample(self, elapsed: float, before: dict[str, float], after: dict[str, float]) -> None:
        span = after["wall"] - before["wall"]
        cycles = after["eval_count"] - before["eval_count"]
        cycle = (after["eval_sum"] - before["eval_sum"]) / cycles if cycles else None
        if cycle is not None:
            self.cycle_times.extend([cycle] * int(cycles))
        s = Sample(
            t=elapsed,
            cpu_pct=100 * (after["cpu"] - before["cpu"]) / span,
            rss_mib=rss_mib(),
            load1=os.getloadavg()[0],
            probe_runs_s=(after["probe_runs"] - before["probe_runs"]) / span,
            skipped=after["skipped"] - before["skipped"],
            cycles=cycles,
            cycle_ms=None if cycle is None else 1000 * cycle,
            spans_s=(after["spans"] - before["spans"]) / span,
            notified=sum(1 for c in self.crossings if c.notified_at is not None),
        )
        heap = malloc_mib()
        if heap is not None:
            s.malloc_used, s.malloc_free = heap
        small = pymalloc_mib()
        if small is not None:
            s.py_used, s.py_free = small
        s.numbers = numbers_kept()
        self.samples.append(s)
        cycle_text = "-" if s.cycle_ms is None else f"{s.cycle_ms:.0f}"
        print(
            f"{s.t:6.0f} {s.cpu_pct:6.1f} {s.rss_mib:8.1f} {s.load1:6.2f} {s.probe_runs_s:9.1f} {s.skipped:7.0f}"
            f" {s.cycles:6.0f} {cycle_text:>8} {s.spans_s:8.0f} {len(self.crossings):9d} {s.notified:8d}"
            f" {s.malloc_used or 0:7.1f} {s.malloc_free or 0:7.1f} {s.py_used or 0:7.1f} {s.py_free or 0:7.1f}"
            f" {s.numbers or 0:7d}",
            flush=True,
        )

    @staticmethod
    def print_header() -> None:
        print(
            f"{'t s':>6} {'CPU %':>6} {'RSS MiB':>8} {'load1':>6} {'probes/s':>9} {'skipped':>7}"
            f" {'cycles':>6} {'cycle ms':>8} {'spans/s':>8} {'crossings':>9} {'notified':>8}"
            f" {'C used':>7} {'C free':>7} {'Py used':>7} {'Py free':>7} {'numbers':>7}",
            flush=True,
        )

    # -- report

    def report(self) -> bool:
        args = self.args
        ok = True
        print()
        window = [s for s in self.samples if s.t <= self.duration + 1]
        steady = [s for s in window if s.t > 20]  # after start-up (model load, first probe runs)
        cpu = [s.cpu_pct for s in steady] or [0.0]
        print(
            f"CPU of the service process (all threads, % of one core; 2 cores = 200%): "
            f"mean {statistics.fmean(cpu):.0f}%, max {max(cpu):.0f}%"
            f"  (machine load average {min(s.load1 for s in window):.1f}-{max(s.load1 for s in window):.1f})"
        )
        sender_cpu = self.sender_summary.get("cpu")
        if sender_cpu is not None:
            print(f"span sender process (not counted above): {100 * sender_cpu / self.duration:.0f}% of one core")

        ok &= self.report_memory(window)

        if self.cycle_times:
            cycle_goal = 1.0
            worst_cycle = max(self.cycle_times)
            met = worst_cycle < cycle_goal
            ok &= met
            print(
                f"evaluation cycle ({len(self.cycle_times)} cycles, {rule_count(args.flows, args.rules_per_flow):,} rules):"
                f" p50 {1000 * statistics.median(self.cycle_times):.0f} ms, max {1000 * worst_cycle:.0f} ms;"
                f" goal < {cycle_goal:g} s (evaluation_bench's): {verdict(met)}"
            )
        else:
            ok = False
            print("evaluation cycle: no cycle ran: MISSED")

        steady_spans = [s.spans_s for s in steady if s.t <= self.duration - SAMPLE_EVERY]
        if steady_spans:
            mean = statistics.fmean(steady_spans)
            met = mean >= 0.95 * args.spans_per_second
            ok &= met
            print(
                f"spans accepted: mean {mean:,.0f}/s (min {min(steady_spans):,.0f}/s in a 10 s window);"
                f" goal >= 95% of {args.spans_per_second:,.0f}/s: {verdict(met)}"
                f"  (sender: {self.sender_summary.get('statuses')},"
                f" requests skipped for lag: {self.sender_summary.get('skipped_requests')})"
            )
        ok &= self.report_latency()
        print()
        print(f"VERDICT: {'all goals MET' if ok else 'goals MISSED (see above)'}")
        return ok

    def report_memory(self, window: list[Sample]) -> bool:
        args = self.args
        half = [s for s in window if s.t >= self.duration / 2]
        if len(half) < 2:
            print("memory: too few samples for a verdict: MISSED")
            return False
        base, peak = half[0].rss_mib, max(s.rss_mib for s in half)
        growth = (peak - base) / base
        flat = growth < 0.10
        print(
            f"memory: RSS {window[0].rss_mib:.0f} MiB at {window[0].t:.0f}s, {base:.0f} MiB at half time,"
            f" max {peak:.0f} MiB in the second half ({growth:+.1%});"
            f" goal growth in the second half < 10%: {verdict(flat)}"
        )
        top = max(s.rss_mib for s in window)
        bounded = top <= args.max_rss
        print(
            f"  max RSS of the run {top:.0f} MiB; goal <= {args.max_rss:g} MiB: {verdict(bounded)};"
            f" slope over the second half {slope_per_10_min(half):+.1f} MiB per 10 min"
        )
        last = window[-1]
        heap = (half[0].malloc_used, half[0].malloc_free, last.malloc_used, last.malloc_free)
        if None not in heap:
            print(
                "  C heap (glibc malloc, all arenas) in use / freed but kept: at half time"
                f" {heap[0]:.0f} / {heap[1]:.0f} MiB, at the end {heap[2]:.0f} / {heap[3]:.0f} MiB"
            )
        small = (half[0].py_used, half[0].py_free, last.py_used, last.py_free)
        if None not in small:
            print(
                "  Python's small-object heap (pymalloc) in use / free in its arenas: at half time"
                f" {small[0]:.0f} / {small[1]:.0f} MiB, at the end {small[2]:.0f} / {small[3]:.0f} MiB"
            )
        if self.in_flight_at_end is not None:
            print(f"  journeys in flight at the end: {self.in_flight_at_end:,} (held: {args.journeys:,})")
        if self.scrapes is not None:
            done, failed, size, series = self.scrapes
            print(
                f"  /metrics scraped every {args.scrape_interval:g} s: {done} scrapes, {failed} failed;"
                f" the last {size / 2**20:.1f} MiB, {series:,} series"
            )
        return flat and bounded

    def report_latency(self) -> bool:
        args = self.args
        done = [c for c in self.crossings if c.notified_at is not None]
        missing = len(self.crossings) - len(done)
        print(
            f"notifications: {len(self.crossings)} threshold crossings, {len(done)} notified,"
            f" {missing} missing (no [FIRING] message within {args.probe_interval + args.evaluation_interval + 60:g} s)"
        )
        if not done:
            print("notification latency: nothing measured: MISSED")
            return False
        ok = missing == 0
        from_data = [c.notified_at - c.changed_at for c in done]  # type: ignore[operator]
        observed = [c for c in done if c.observed_at is not None]
        from_probe = [c.notified_at - c.observed_at for c in observed]  # type: ignore[operator]
        goal_data = args.evaluation_interval + args.probe_interval + 1
        goal_probe = args.evaluation_interval + 1
        met_data = p(from_data, 0.99) < goal_data
        met_probe = bool(from_probe) and p(from_probe, 0.99) < goal_probe
        note = " (nearest rank; with fewer than 100 crossings p99 is the maximum)"
        print(f"notification latency{note}:")
        print(
            f"  data changed -> Slack:   p50 {statistics.median(from_data):5.1f} s  p99 {p(from_data, 0.99):5.1f} s"
            f"  max {max(from_data):5.1f} s;  goal p99 < evaluation {args.evaluation_interval:g} + probe"
            f" {args.probe_interval:g} + 1 = {goal_data:g} s: {verdict(met_data)}"
        )
        if from_probe:
            print(
                f"  probe observed -> Slack: p50 {statistics.median(from_probe):5.1f} s  p99 {p(from_probe, 0.99):5.1f} s"
                f"  max {max(from_probe):5.1f} s;  goal p99 < evaluation {args.evaluation_interval:g} + 1"
                f" = {goal_probe:g} s: {verdict(met_probe)}"
            )
        parts = [
            ("data changed -> probe observed", [c.observed_at - c.changed_at for c in observed]),  # type: ignore[operator]
            (
                "probe observed -> cycle fired",
                [c.fired_at - c.observed_at for c in observed if c.fired_at is not None],  # type: ignore[operator]
            ),
            (
                "cycle fired -> Slack stored",
                [c.notified_at - c.fired_at for c in done if c.fired_at is not None],  # type: ignore[operator]
            ),
        ]
        print("  where the time goes:")
        for name, values in parts:
            if values:
                print(
                    f"    {name:32} p50 {statistics.median(values):5.1f} s  p99 {p(values, 0.99):5.1f} s"
                    f"  max {max(values):5.1f} s"
                )
        return ok and met_data and met_probe


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the run (default 3; the issue: 30)")
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--probe-interval", type=float, default=15.0, help="seconds between runs of each probe")
    parser.add_argument("--spans-per-second", type=float, default=2000.0)
    parser.add_argument("--evaluation-interval", type=float, default=15.0)
    parser.add_argument(
        "--delivery-interval", type=float, default=2.0, help="seconds between outbox delivery passes (default 2)"
    )
    parser.add_argument("--postgres", action="store_true", help="probe target on the local PostgreSQL, not SQLite")
    parser.add_argument(
        "--rules-per-flow", type=int, default=1, help="rules on each flow's backlog (default 1; issue 19 goal 5: 5)"
    )
    parser.add_argument(
        "--journeys",
        type=int,
        default=0,
        help="journeys held in flight for the whole run, started before it (default 0; issue 19 goal 5: 100000)",
    )
    parser.add_argument(
        "--scrape-interval", type=float, default=20.0, help="seconds between GET /metrics (default 20; 0: none)"
    )
    parser.add_argument("--max-rss", type=float, default=250.0, help="memory goal, MiB of RSS (default 250)")
    parser.add_argument(
        "--tracemalloc-at",
        type=float,
        nargs="+",
        metavar="MINUTE",
        help="trace Python allocations; snapshots at these minutes and at the end, print what grew (slows the run)",
    )
    parser.add_argument(
        "--tracemalloc-frames",
        type=int,
        default=1,
        metavar="N",
        help="traceback depth of --tracemalloc-at (default 1: by line; more: by whole traceback, to find the caller)",
    )
    parser.add_argument("--send", nargs=4, metavar=("PORT", "RATE", "SECONDS", "FLOWS"), help=argparse.SUPPRESS)
    parser.add_argument("--scrape", nargs=3, metavar=("PORT", "INTERVAL", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scrape:
        port, interval, seconds = args.scrape
        scrape(int(port), float(interval), float(seconds))
        return
    if args.send:
        port, rate, seconds, flows = args.send
        send(int(port), float(rate), float(seconds), flows.split(","))
        return
    if args.minutes * 60 < 2 * max(30.0, args.probe_interval + args.evaluation_interval) + 30:
        parser.error("--minutes is too short for the probe and evaluation intervals")
    logging.basicConfig(level=logging.ERROR)
    print(
        f"soak: {args.flows} flows (SQL probe every {args.probe_interval:g} s on"
        f" {'PostgreSQL' if args.postgres else 'SQLite'}, {len(trace_flows(args.flows))} with trace signals),"
        f" {rule_count(args.flows, args.rules_per_flow):,} rules evaluated every {args.evaluation_interval:g} s,"
        f" {args.journeys:,} journeys held in flight,"
        f" {args.spans_per_second:,.0f} spans/s over HTTP, delivery every {args.delivery_interval:g} s,"
        f" /metrics scraped every {args.scrape_interval:g} s,"
        f" {args.minutes:g} min, {os.cpu_count()} CPUs",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="flowhealth-soak-") as tmp:
        soak = Soak(args, Path(tmp))
        soak.run()
        ok = soak.report()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
