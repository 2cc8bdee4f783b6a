"""The scheduler under the real runtime: slow probes are skipped, not stacked; a hang delays nobody."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flowhealth.model import Model
from flowhealth.probes import registry
from flowhealth.probes.registry import Factory
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.testing import probe_registry
from tests.support.models import ORDERS_FLOW, write_model
from tests.support.stand_ins import StandInProbe

FLOWS = (
    """
"""
    + ORDERS_FLOW
    + """      slow:
        kind: depth
        description: Measured by a target that answers slowly or not at all.
        probe: {kind: http, url: "http://127.0.0.1:PORT/", path: n, interval: 10s, timeout: 5s}
      fast:
        kind: depth
        description: Measured by a healthy target.
        probe: {kind: http, url: "http://127.0.0.1:1/", path: n, interval: 10s, timeout: 5s}
"""
)

SPEED = 20.0  # 10 s intervals run every 0.5 s of real time


@pytest.fixture
def hanging_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    for sock in held:
        sock.close()


def start(model: Model, tmp_path: Path, probes: Mapping[str, Factory] | None = None) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", evaluation_interval=3600)
    runtime = Runtime.build(settings, model, registry=CollectorRegistry(), environ={}, speed=SPEED, probes=probes)
    runtime.start()
    return runtime


def test_a_slow_probe_is_skipped_not_stacked(tmp_path: Path) -> None:
    slow, fast = StandInProbe("http", seconds=1.2), StandInProbe("http", seconds=0.0)
    probes = {"slow": slow, "fast": fast}
    stand_in = probe_registry(http=lambda spec, ctx, flow: probes["slow" if "PORT" in spec.url else "fast"])
    runtime = start(write_model(tmp_path / "m", FLOWS), tmp_path, probes=stand_in)
    try:
        time.sleep(3.0)  # the scheduler runs on real time; this is the observation window
        skipped = runtime.registry.get_sample_value(
            "flowhealth_probe_runs_skipped_total", {"flow": "orders", "signal": "slow"}
        )
    finally:
        runtime.stop()
    assert slow.most_active == 1  # never two runs of one probe at once
    assert skipped is not None and skipped >= 1  # the runs that were due meanwhile are counted
    assert slow.runs <= 3  # 3 s / 1.2 s per run, instead of one start every 0.5 s
    assert fast.runs >= 4


def test_one_hanging_target_does_not_delay_the_others(tmp_path: Path, hanging_server: int) -> None:
    flows = FLOWS.replace("PORT", str(hanging_server))
    model = write_model(tmp_path / "m", flows)
    fast_runs = StandInProbe("http", seconds=0.0)
    original = probe_registry()["http"]

    def factory(spec: object, ctx: registry.ProbeContext, flow: str) -> object:
        return fast_runs if "127.0.0.1:1/" in spec.url else original(spec, ctx, flow)  # type: ignore[attr-defined]

    runtime = start(model, tmp_path, probes=probe_registry(http=factory))
    try:
        time.sleep(3.0)  # observation window on the real scheduler clock
        hung = runtime.metrics.registry.get_sample_value(
            "flowhealth_probe_runs_total",
            {"flow": "orders", "signal": "slow", "kind": "http", "outcome": "timeout"},
        )
    finally:
        runtime.stop()
    assert fast_runs.runs >= 5  # every 0.5 s, while the other target hangs for 5 s per run
    assert not hung  # the hanging run is still waiting for its 5 s timeout: not stacked behind
