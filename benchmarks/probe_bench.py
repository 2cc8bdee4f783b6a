"""1,000 SQL probes on PostgreSQL through the real runtime and scheduler.

Prints CPU seconds per 1,000 probe runs, scheduling lag p50/p99 (planned vs actual start) and
peak memory. Run: `python -m benchmarks.probe_bench [--probes 1000] [--interval 5] [--duration 30]`.
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.support.models import write_model
from tests.support.services import POSTGRES_ADMIN_URL

from flowhealth.model import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings

SPEED = 10.0  # model intervals are whole seconds; the runtime's speed factor makes them short


def _model(root: Path, url: str, probes: int, interval: float) -> Any:
    per_flow = 100
    flows = [f'connections:\n  bench_db: {{url: "{url}", pool_size: 8}}\nflows:\n']
    for f in range((probes + per_flow - 1) // per_flow):
        flows.append(
            f"  flow-{f}:\n    description: Benchmark flow.\n    object: order\n    source_of_truth: shop\n"
            "    targets: [erp]\n    pattern: queue\n    latency_class: same-day\n    owner: shop-team\n    signals:\n"
        )
        for s in range(min(per_flow, probes - f * per_flow)):
            flows.append(
                f"      s{s}:\n        kind: depth\n        description: Waiting orders in bucket {s}.\n"
                f"        probe:\n          kind: sql\n          connection: bench_db\n"
                f"          query: SELECT COUNT(*) FROM bench_orders WHERE bucket = {s} AND exported = false\n"
                f"          interval: {interval * SPEED:g}s\n          timeout: {min(10, interval * SPEED / 2):g}s\n"
            )
    write_model(root, "".join(flows))
    return load_model(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0, help="Seconds between runs of one probe.")
    parser.add_argument("--duration", type=float, default=30.0, help="Measured seconds (after a warm-up interval).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"flowhealth_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
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
    target.dispose()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), url, args.probes, args.interval, args.duration)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(tmp: Path, url: str, probes: int, interval: float, duration: float) -> None:
    model = _model(tmp / "model", url, probes, interval)
    settings = Settings(database_url=f"sqlite:///{tmp / 'state.db'}", evaluation_interval=3600)
    runtime = Runtime.build(settings, model, registry=CollectorRegistry(), environ={}, speed=SPEED)
    started: dict[tuple[str, str], float] = {}
    lags: list[float] = []
    measuring = threading.Event()
    original = runtime.runner.run

    def timed_run(flow: str, signal: str) -> Any:
        started[(flow, signal)] = time.time()
        return original(flow, signal)

    runtime.runner.run = timed_run  # type: ignore[method-assign]

    def executed(event: JobExecutionEvent) -> None:
        if measuring.is_set() and event.job_id.startswith("probe:"):
            _, flow, signal = event.job_id.split(":", 2)
            planned: datetime = event.scheduled_run_time
            lags.append(started[(flow, signal)] - planned.timestamp())

    runtime.start()
    assert runtime.scheduler is not None
    runtime.scheduler.add_listener(executed, EVENT_JOB_EXECUTED)
    time.sleep(interval + 5)  # warm-up: start-up jitter spreads the first runs over up to 5 s
    cpu0, runs0 = time.process_time(), _runs(runtime)
    measuring.set()
    time.sleep(duration)
    measuring.clear()
    cpu, runs = time.process_time() - cpu0, _runs(runtime) - runs0
    runtime.stop()
    lags.sort()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"probes: {probes} SQL probes on PostgreSQL, every {interval:g}s, measured for {duration:g}s")
    print(f"probe runs: {runs:.0f} ({runs / duration:.0f}/s)")
    print(f"CPU seconds per 1,000 probe runs: {1000 * cpu / max(runs, 1):.3f}")
    if lags:
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        print(
            f"scheduling lag: p50 {1000 * statistics.median(lags):.1f} ms, p99 {1000 * p99:.1f} ms ({len(lags)} runs)"
        )
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
    print("query-exporter comparison: not made (see benchmarks/README.md)")


def _runs(runtime: Runtime) -> float:
    total = 0.0
    for metric in runtime.registry.collect():
        if metric.name == "flowhealth_probe_runs":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


if __name__ == "__main__":
    main()
