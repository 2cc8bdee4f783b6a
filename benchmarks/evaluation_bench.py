"""Rule evaluation time: 10,000 rules over 10,000 signals, per cycle.

    python -m benchmarks.evaluation_bench [--rules 10000] [--cycles 5] [--firing 0.05] [--postgres URL]

Goal: under one second per cycle. Prints p50 and worst cycle time for a quiet cycle (nothing
changes), a storm cycle (a share of the rules start firing) and steady firing cycles.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from benchmarks.synthetic import write_synthetic_model
from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.payload import Links
from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.samples import Reading, record_readings


def observe(engine: Engine, model: Model, clock: FakeClock, firing_every: int) -> None:
    with transaction(engine) as session:
        for i, ref in enumerate(model.signals()):
            value = 1800.0 if firing_every and i % firing_every == 0 else 60.0
            record_readings(session, ref.flow_id, ref.signal_id, [Reading(value)], clock.now(), "push")


def run(engine: Engine, model: Model, cycles: int, firing: float) -> dict[str, list[float]]:
    init_schema(engine)
    clock = FakeClock()
    evaluator = Evaluator(
        model, engine, clock, Metrics(CollectorRegistry()), IncidentManager(model, Links("http://fh", "http://g"))
    )
    times: dict[str, list[float]] = {"quiet": [], "storm": [], "firing": []}
    observe(engine, model, clock, 0)
    for _ in range(cycles):
        clock.advance(15)
        started = time.perf_counter()
        evaluator.evaluate()
        times["quiet"].append(time.perf_counter() - started)
    observe(engine, model, clock, int(1 / firing) if firing else 0)
    clock.advance(15)
    started = time.perf_counter()
    evaluator.evaluate()
    times["storm"].append(time.perf_counter() - started)
    for _ in range(cycles):
        clock.advance(15)
        started = time.perf_counter()
        evaluator.evaluate()
        times["firing"].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--firing", type=float, default=0.05, help="share of rules that start firing")
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (an empty database)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        model = write_synthetic_model(Path(tmp) / "model", flows=args.rules // 10, signals_per_flow=10, teams=20)
        print(
            f"model: {len(model.flows)} flows, {len(model.signals())} signals, {len(model.rules)} rules "
            f"(loaded and validated in {time.perf_counter() - started:.2f} s)"
        )
        targets = {"sqlite": make_engine(f"sqlite:///{Path(tmp) / 'state.db'}")}
        if args.postgres:
            targets["postgresql"] = make_engine(args.postgres)
        for name, engine in targets.items():
            times = run(engine, model, args.cycles, args.firing)
            for phase, values in times.items():
                verdict = "ok" if max(values) < 1.0 else "MISSES the 1 s goal"
                print(
                    f"{name:10} {phase:7} cycle: p50 {statistics.median(values):.3f} s, worst {max(values):.3f} s  {verdict}"
                )


if __name__ == "__main__":
    main()
