"""The reference deployment on the demo's simulated commerce stack, moved by a fake clock and served over HTTP."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.demo.history import seed_baseline_history
from flowhealth.demo.simulator import CommerceSimulator
from flowhealth.demo.spans import StageEvent, export_request
from flowhealth.model import Model
from flowhealth.notify.console import ConsoleNotifier
from flowhealth.probes.runner import scheduled_signals
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings


@dataclass
class DemoStack:
    runtime: Runtime
    simulator: CommerceSimulator
    clock: FakeClock

    def tick(self, seconds: float) -> None:
        """Move simulated time, let the stack work, measure every signal and evaluate the rules."""
        self.clock.advance(seconds)
        self.simulator.step()
        journeys = self.simulator.drain_journeys()
        if journeys:
            self.runtime.traces.ingest(export_request(journeys))
        for flow, signal in sorted(scheduled_signals(self.runtime.model)):
            self.runtime.runner.run(flow, signal)
        self.runtime.traces.refresh()
        self.runtime.evaluator.evaluate()

    def break_things(self) -> None:
        """Data that only exists when something went wrong: an ERP rejection, a hand fix, a booking off by 10."""
        from flowhealth.store.db import transaction
        from flowhealth.store.records import Intervention

        # The middleware's span says the same as the ERP's rejection table.
        self.runtime.traces.ingest(
            export_request([StageEvent("SO-1", "exported", self.clock.now().timestamp(), "unknown_sku")])
        )
        # The agent also records the fix, as `flowhealth intervention` would.
        with transaction(self.runtime.engine) as session:
            session.add(
                Intervention(
                    flow="order-export", reason="resent", record="SO-1", actor="agent", performed_at=self.clock.now()
                )
            )
        now = self.clock.now().timestamp()
        with sqlite3.connect(self.simulator.path, timeout=30) as db:
            db.execute(
                "INSERT INTO erp_rejections (order_number, reason, rejected_at) VALUES ('SO-1', 'unknown_sku', ?)",
                (now,),
            )
            db.execute(
                "INSERT INTO manual_interventions (flow, record, reason, actor, performed_at) "
                "VALUES ('order-export', 'SO-1', 'resent', 'agent', ?)",
                (now,),
            )
            db.execute(
                "UPDATE erp_ledger SET amount = amount + 10 WHERE payment_ref = "
                "(SELECT payment_ref FROM psp_settlements WHERE settled_at < ? ORDER BY settled_at LIMIT 1)",
                (now - 7200,),
            )


def build_demo_stack(model: Model, work: Path, **settings: object) -> DemoStack:
    """The stack; `settings` override the defaults (e.g. api_token, board_token)."""
    clock = FakeClock()
    simulator = CommerceSimulator(work / "commerce.db", clock)
    environ = {name: simulator.url() for name in ("COMMERCE_DB_URL", "ERP_DB_URL", "FINANCE_DWH_URL")}
    runtime = Runtime.build(
        Settings(database_url=f"sqlite:///{work / 'state.db'}", **settings),  # type: ignore[arg-type]
        model,
        clock=clock,
        registry=CollectorRegistry(),
        environ=environ,
        notifier=ConsoleNotifier(write=lambda _text: None),
    )
    # The shop has run for weeks: baseline rules know the usual order rate and draw their band.
    seed_baseline_history(runtime.engine, model, clock.now(), simulator.scenario.orders_per_minute)
    return DemoStack(runtime, simulator, clock)


@contextmanager
def serve(runtime: Runtime, port: int) -> Iterator[str]:
    """flowhealth's HTTP API on 127.0.0.1:port in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime, manage_runtime=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="flowhealth-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
