"""1,000 SQL probes on PostgreSQL through the real runtime and scheduler.

Prints CPU seconds per 1,000 probe runs, scheduling lag p50/p99 (planned vs actual start), CPU
per `/metrics` scrape and peak memory. The process is scraped 3 times a minute throughout (as a
Prometheus with a 20 s scrape interval would), so probe CPU includes its scrapes. Run: `python -m benchmarks.probe_bench [--probes 1000] [--interval 5] [--duration 30]`.
`--url` runs against an existing database already prepared by `create_database` (used by
`benchmarks.query_exporter_compare`), `--json` prints the figures as one JSON line instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.support.models import write_model
from tests.support.services import POSTGRES_ADMIN_URL

from flowhealth.cli.common import settle_for_serving
from flowhealth.exposition import TextExposition
from flowhealth.model import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings

SPEED = 10.0  # model intervals are whole seconds; the runtime's speed factor makes them short
PER_FLOW = 100
SCRAPE_EVERY = 20.0  # seconds: 3 scrapes a minute, included in probe CPU
POOL_SIZE = 8
QUERY = "SELECT COUNT(*) FROM bench_orders WHERE bucket = {bucket} AND exported = false"


def probe_queries(probes: int) -> list[tuple[str, str, str]]:
    """(flow, signal, SQL) of every benchmark probe: 100 signals per flow, one bucket each."""
    return [(f"flow-{n // PER_FLOW}", f"s{n % PER_FLOW}", QUERY.format(bucket=n % PER_FLOW)) for n in range(probes)]


def _model(root: Path, url: str, probes: int, interval: float) -> Any:
    flows = [f'connections:\n  bench_db: {{url: "{url}", pool_size: {POOL_SIZE}}}\nflows:\n']
    for flow, signal, query in probe_queries(probes):
        if signal == "s0":
            flows.append(
                f"  {flow}:\n    description: Benchmark flow.\n    object: order\n    source_of_truth: shop\n"
                "    targets: [erp]\n    pattern: queue\n    latency_class: same-day\n    owner: shop-team\n    signals:\n"
            )
        flows.append(
            f"      {signal}:\n        kind: depth\n        description: Waiting orders in bucket {signal[1:]}.\n"
            f"        probe:\n          kind: sql\n          connection: bench_db\n"
            f"          query: {query}\n"
            f"          interval: {interval * SPEED:g}s\n          timeout: {probe_timeout(interval):g}s\n"
        )
    write_model(root, "".join(flows))
    return load_model(root)


def probe_timeout(interval: float) -> float:
    """Seconds a probe may take (the runtime's speed factor scales intervals, not timeouts)."""
    return min(10, interval * SPEED / 2)


def warm_up(interval: float) -> float:
    """Seconds from start to the measured window.

    query-exporter (see `query_exporter_compare`) runs every query in a burst at the start of each
    interval; flowhealth spreads its probes over the interval by their fixed phases. The window
    opens half an interval after a burst began and (with a duration that is a multiple of the
    interval) spans whole intervals, so both sides count every query exactly once per interval
    instead of a varying share of a burst at each edge.
    """
    return 5 + 1.5 * interval


def create_database() -> tuple[str, str]:
    """A fresh database with the 20,000-row table the probes count: (name, URL)."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"flowhealth_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    target = create_engine(url)
    with target.begin() as conn:
        conn.execute(text("CREATE TABLE bench_orders (id SERIAL PRIMARY KEY, bucket INT, exported BOOLEAN)"))
        conn.execute(
            text(
                "INSERT INTO bench_orders (bucket, exported) SELECT g % 100, g % 7 = 0 FROM generate_series(1, 20000) g"
            )
        )
        conn.execute(text("CREATE INDEX ON bench_orders (bucket, exported)"))
        conn.execute(text("ANALYZE bench_orders"))
    target.dispose()
    return name, url


def drop_database(name: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0, help="Seconds between runs of one probe.")
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="Measured seconds (after a warm-up); best a multiple of the interval.",
    )
    parser.add_argument("--url", help="Use this prepared database instead of creating and dropping one.")
    parser.add_argument("--json", action="store_true", help="Print the figures as one JSON line.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    load_before = os.getloadavg()  # the machine is shared: the load is part of every figure
    name, url = (None, args.url) if args.url else create_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(Path(tmp), url, args.probes, args.interval, args.duration)
    finally:
        if name is not None:
            drop_database(name)
    if args.json:
        print(json.dumps(result))
        return
    print(f"probes: {args.probes} SQL probes on PostgreSQL, every {args.interval:g}s, measured for {args.duration:g}s")
    print(f"probe runs: {result['runs']:.0f} ({result['runs'] / args.duration:.0f}/s)")
    print(f"CPU seconds per 1,000 probe runs: {1000 * result['cpu_seconds'] / max(result['runs'], 1):.3f}")
    if result["lag_runs"]:
        print(
            f"scheduling lag: p50 {1000 * result['lag_p50']:.1f} ms, p99 {1000 * result['lag_p99']:.1f} ms"
            f" ({result['lag_runs']} runs)"
        )
    print(
        f"/metrics scrape: {1000 * result['scrape_cpu_seconds']:.1f} ms CPU, {result['scrape_bytes'] / 1e6:.2f} MB,"
        f" {result['scrape_series']} series ({result['scrapes']} scrapes)"
    )
    print(
        f"  prometheus-client's generate_latest of the same registry: {1000 * result['generate_latest_cpu_seconds']:.1f} ms CPU"
    )
    print(f"peak memory (max RSS): {result['peak_rss_mib']:.0f} MiB")
    load = " / ".join(f"{x:.1f}" for x in load_before), " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load[0]} before, {load[1]} after")
    print("query-exporter comparison: python -m benchmarks.query_exporter_compare (see benchmarks/README.md)")


def run(tmp: Path, url: str, probes: int, interval: float, duration: float) -> dict[str, Any]:
    model = _model(tmp / "model", url, probes, interval)
    settings = Settings(database_url=f"sqlite:///{tmp / 'state.db'}", evaluation_interval=3600)
    runtime = Runtime.build(settings, model, registry=CollectorRegistry(), environ={}, speed=SPEED)
    settle_for_serving()  # the collector as `flowhealth serve` sets it: full collections stalled probes
    started: dict[tuple[str, str], float] = {}
    lags: list[float] = []
    measuring = threading.Event()
    slots: dict[str, tuple[tuple[str, str], ...]] = {}

    def on_start(flow: str, signal: str) -> None:
        started[(flow, signal)] = time.time()  # just before the probe's query, after its group's earlier probes

    runtime.runner.on_start = on_start

    def executed(event: JobExecutionEvent) -> None:
        # A slot's job runs its probes one after the other: each probe's lag is its own start minus the
        # slot's planned start, so the wait behind the probes before it in the slot counts.
        if measuring.is_set() and event.job_id.startswith("probe"):
            planned = event.scheduled_run_time.timestamp()
            # A probe skipped in this round has no start after the planned time, and no lag.
            lags.extend(started[key] - planned for key in slots[event.job_id] if started.get(key, 0.0) >= planned)

    registry, exposition = runtime.registry, TextExposition()  # what GET /metrics runs
    scrape_cpu: list[float] = []
    scrape_size: list[tuple[int, int]] = []
    stop_scraping = threading.Event()

    def scrape() -> None:
        # What Prometheus' request costs the process: the whole exposition, timed on this thread.
        cpu0 = time.thread_time()
        body = exposition.render(registry)
        scrape_cpu.append(time.thread_time() - cpu0)
        scrape_size.append((len(body), sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))))

    def scraper() -> None:
        while not stop_scraping.wait(SCRAPE_EVERY / 2 if not scrape_cpu else SCRAPE_EVERY):
            scrape()

    runtime.start()
    scraping = threading.Thread(target=scraper, name="bench-scraper", daemon=True)
    scraping.start()
    assert runtime.scheduler is not None
    slots.update((job.id, job.args[0].keys) for job in runtime.scheduler.get_jobs() if job.id.startswith("probe"))
    runtime.scheduler.add_listener(executed, EVENT_JOB_EXECUTED)
    time.sleep(warm_up(interval))
    cpu0, runs0 = time.process_time(), _runs(runtime)
    measuring.set()
    time.sleep(duration)
    measuring.clear()
    cpu, runs = time.process_time() - cpu0, _runs(runtime) - runs0
    stop_scraping.set()
    scraping.join()
    for _ in range(3):  # a few more, so the per-scrape figure is a median even for a short window
        scrape()
    # prometheus-client's own writer on the same registry, for reference (both see the same series).
    cpu0 = time.thread_time()
    generate_latest(registry)
    client_cpu = time.thread_time() - cpu0
    runtime.stop()
    lags.sort()
    return {
        "runs": runs,
        "cpu_seconds": cpu,
        "duration": duration,
        "lag_runs": len(lags),
        "lag_p50": statistics.median(lags) if lags else None,
        "lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else None,
        "scrapes": len(scrape_cpu),
        "scrape_cpu_seconds": statistics.median(scrape_cpu),
        "scrape_bytes": scrape_size[-1][0],
        "scrape_series": scrape_size[-1][1],
        "generate_latest_cpu_seconds": client_cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _runs(runtime: Runtime) -> float:
    total = 0.0
    # The counter alone: collecting the whole registry would also run the state collector.
    for metric in runtime.metrics.probe_runs.collect():
        if metric.name == "flowhealth_probe_runs":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


if __name__ == "__main__":
    main()
