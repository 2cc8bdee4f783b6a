"""`flowhealth demo`: the reference deployment, a simulated commerce stack, one incident."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlmodel import Session, select

from ..clock import ScaledClock
from ..model.loader import load_model
from ..notify.base import Notifier
from ..runtime import Runtime, default_notifier
from ..settings import Settings
from ..store.tables import AlertEvent
from .history import seed_baseline_history
from .prometheus import REAL_SPEED_SCENARIO, recipe, write_prometheus_config
from .simulator import CommerceSimulator, Scenario
from .spans import export_request

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    fired: list[str]
    resolved: list[str]
    seconds: float


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def run_demo(
    model_dir: Path,
    work_dir: Path,
    *,
    speed: float = 30.0,
    port: int = 8000,
    timeout: float = 240.0,
    keep_running: bool = False,
    scenario: Scenario | None = None,
    notifier: Notifier | None = None,
    say: Callable[[str], None] = print,
    prometheus: bool = False,
) -> DemoResult:
    """Run the demo until the incident has fired and resolved, or `timeout` real seconds have
    passed (also with `keep_running`; a timeout of 0 means no limit)."""
    model = load_model(model_dir)
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    if prometheus:
        speed, scenario = 1.0, scenario or REAL_SPEED_SCENARIO
    clock = ScaledClock(speed)
    simulator = CommerceSimulator(work_dir / "commerce.db", clock, scenario)
    environ = {
        "COMMERCE_DB_URL": simulator.url(),
        "ERP_DB_URL": simulator.url(),
        "FINANCE_DWH_URL": simulator.url(),
    }
    settings = Settings(
        database_url=f"sqlite:///{work_dir / 'flowhealth.db'}",
        model_dir=model_dir,
        public_url=f"http://localhost:{port}" if port else "http://localhost:8000",
        evaluation_interval=15.0,
        delivery_interval=0.5,
    )
    runtime = Runtime.build(
        settings,
        model,
        clock=clock,
        environ=environ,
        speed=speed,
        notifier=notifier or default_notifier(settings),
    )
    say(
        f"flowhealth demo: {len(model.flows)} flows, {len(model.rules)} alert rules, "
        f"{len(model.runbooks)} runbooks; simulated time runs {speed:g}x faster than real time."
    )
    say(f"  state: {work_dir / 'flowhealth.db'}   simulated stack: {simulator.path}")
    seeded = seed_baseline_history(runtime.engine, model, clock.now(), simulator.scenario.orders_per_minute)
    server = _start_http(runtime, port, say) if port else None
    if prometheus and server is not None:
        for line in recipe(write_prometheus_config(model, work_dir, port), work_dir):
            say(line)
    elif prometheus:
        say("  --prometheus needs the demo's HTTP API for Prometheus to scrape: give a free --port")
    if seeded:
        say(f"  {seeded} samples of order-rate history seeded, so baseline rules know the usual week")
    started = time.monotonic()
    runtime.start()
    fired: list[str] = []
    resolved: list[str] = []
    try:
        while not timeout or time.monotonic() - started < timeout:
            for event in simulator.step():
                say(f"[{clock.now():%H:%M} simulated] {event}")
            journeys = simulator.drain_journeys()
            if journeys:  # the shop, middleware and ERP connector report their spans
                runtime.traces.ingest(export_request(journeys))
            fired, resolved = _alert_events(runtime)
            played = clock.now() - simulator.started >= simulator.scenario_end()
            if not keep_running and played and fired and set(fired) <= set(resolved) and _outbox_empty(runtime):
                break
            time.sleep(0.25)
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        runtime.stop()
        if server is not None:
            server.should_exit = True
    seconds = time.monotonic() - started
    say(f"demo finished after {seconds:.0f}s: {len(fired)} alert(s) fired, {len(resolved)} resolved.")
    return DemoResult(fired, resolved, seconds)


def _alert_events(runtime: Runtime) -> tuple[list[str], list[str]]:
    with Session(runtime.engine) as session:
        events = session.exec(select(AlertEvent).where(AlertEvent.event.in_(("firing", "resolved")))).all()  # type: ignore[attr-defined]
    fired = [f"{e.rule}#{e.incident}" for e in events if e.event == "firing"]
    resolved = [f"{e.rule}#{e.incident}" for e in events if e.event == "resolved"]
    return fired, resolved


def _outbox_empty(runtime: Runtime) -> bool:
    from ..store.outbox import backlog

    with Session(runtime.engine) as session:
        count, _ = backlog(session)
    return count == 0


def _start_http(runtime: Runtime, port: int, say: Callable[[str], None]) -> uvicorn.Server | None:
    from ..api.app import create_app
    from ..api.server import server_options

    if not _port_free("127.0.0.1", port):
        say(f"  port {port} is busy: the demo runs without its HTTP API (use --port to choose another)")
        return None
    app = create_app(runtime, manage_runtime=False)
    options = server_options(runtime.settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    say(f"  HTTP API: http://127.0.0.1:{port}/metrics  /healthz  /api/v1/alerts")
    return server
