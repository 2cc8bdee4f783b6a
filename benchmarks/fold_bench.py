"""Span folding in process: CPU per span of the fold, and how long each fold holds SQLite's writer.

    python -m benchmarks.fold_bench              # one flow, then 100 trace flows (about a minute)

The receiver's path (`accept_body`) takes 32 export requests of 512 spans, then the folder's pass
folds them, as `flowhealth serve` does under a steady stream; the folder thread is held off so
both are timed on this thread. Two workloads:

* one flow: `trace_bench`'s payloads (shop, middleware and ERP spans of the reference
  deployment's order journey, every order a new journey);
* 100 trace flows: the soak's model (1,000 flows, every tenth with traces); each request starts
  256 journeys spread over the flows and completes the 256 of the request before.

While a fold holds SQLite's single writer, the receivers' inbox inserts wait (their p99), so the
hold is printed with the CPU. Issue 19, goal 3: the fold is most of the server's CPU per span.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from benchmarks import soak, trace_bench
from flowhealth.cli.common import settle_for_serving
from flowhealth.clock import SystemClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store import sqlite_writers
from flowhealth.traces.decode import PROTOBUF

GROUP = 32  # requests per fold: the folder's FOLD_ROWS
BATCH = 512


class WriterHolds:
    """Seconds each write transaction held the in-process writer lock, recorded while installed."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._take = sqlite_writers.SerializedWriters.take
        self._give_back = sqlite_writers.SerializedWriters.give_back

    def __enter__(self) -> WriterHolds:
        take, give_back, seconds = self._take, self._give_back, self.seconds
        started: dict[int, float] = {}

        def timed_take(conn: Any) -> None:
            take(conn)
            started[id(conn)] = time.perf_counter()

        def timed_give_back(conn: Any) -> None:
            releasing = conn._holds and not conn.in_transaction
            give_back(conn)
            if releasing:
                seconds.append(time.perf_counter() - started.pop(id(conn)))

        sqlite_writers.SerializedWriters.take = timed_take  # type: ignore[method-assign]
        sqlite_writers.SerializedWriters.give_back = timed_give_back  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        sqlite_writers.SerializedWriters.take = self._take  # type: ignore[method-assign]
        sqlite_writers.SerializedWriters.give_back = self._give_back  # type: ignore[method-assign]


def one_flow(requests: int) -> tuple[Runtime, list[tuple[bytes, bytes]]]:
    runtime = trace_bench.build_runtime(Path(tempfile.mkdtemp()) / "state.db")
    bodies = [(body, gzip.compress(body, compresslevel=1)) for body in trace_bench.payloads(0, requests)]
    return runtime, bodies


def many_flows(requests: int) -> tuple[Runtime, list[tuple[bytes, bytes]]]:
    work = Path(tempfile.mkdtemp())
    model = soak.write_model(work / "model", "postgresql://bench@127.0.0.1/unused", 1000, 15)
    flows = soak.trace_flows(1000)
    settings = Settings(database_url=f"sqlite:///{work / 'state.db'}")
    runtime = Runtime.build(settings, model, clock=SystemClock(), registry=CollectorRegistry(), environ={})
    return runtime, list(_journeys_over(flows, requests))


def _journeys_over(flows: list[str], requests: int) -> Iterator[tuple[bytes, bytes]]:
    now, before = time.time(), []
    for r in range(requests):
        first = r * (BATCH // 2)
        placed = [(flows[(first + i) % len(flows)], "placed", f"O-{first + i}") for i in range(BATCH // 2)]
        gzipped = soak.export_body(placed + [(flow, "accepted", order) for flow, _, order in before], now)
        before = placed
        yield zlib.decompress(gzipped, 31), gzipped


def measure(runtime: Runtime, bodies: list[tuple[bytes, bytes]]) -> tuple[float, float, list[float]]:
    """(receiver CPU µs per span, fold CPU µs per span, writer holds of the folds in seconds)."""
    settle_for_serving()
    service = runtime.traces
    service._folder.wake = lambda: None  # type: ignore[method-assign]  # folded below, on this thread
    accept = fold = 0.0
    holds: list[float] = []
    try:
        for i in range(0, len(bodies), GROUP):
            cpu0 = time.thread_time()
            for body, gzipped in bodies[i : i + GROUP]:
                service.accept_body(PROTOBUF, body, gzipped)
            cpu1 = time.thread_time()
            with WriterHolds() as writer:
                service.fold_arrived()
            fold += time.thread_time() - cpu1
            accept += cpu1 - cpu0
            holds.extend(writer.seconds)
    finally:
        runtime.stop()
    spans = len(bodies) * BATCH
    return 1e6 * accept / spans, 1e6 * fold / spans, holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=640, help="export requests of 512 spans per workload")
    args = parser.parse_args()
    print(f"span folding in process: {args.requests} requests x {BATCH} spans per workload, folds of {GROUP} requests")
    for name, build in (("one flow", one_flow), ("100 trace flows", many_flows)):
        runtime, bodies = build(args.requests)
        accept, fold, holds = measure(runtime, bodies)
        holds.sort()
        print(
            f"  {name:16s} receiver {accept:5.2f} us/span   fold {fold:5.2f} us/span   "
            f"writer held per fold: median {1000 * statistics.median(holds):6.1f} ms, max {1000 * holds[-1]:6.1f} ms"
        )


if __name__ == "__main__":
    main()
