"""An evaluation cycle delivers what it queued at once, and delivery passes never overlap."""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client import CollectorRegistry

from flowhealth.clock import FakeClock
from flowhealth.notify.base import Delivery
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.outbox import ThreadRef
from flowhealth.store.samples import Reading, record_readings
from tests.support.alerting_model import write_alerting_model


class SlowNotifier:
    """Records deliveries; the first one waits until told, so a second pass could overlap it."""

    min_interval_per_channel = 0.0

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.entered_twice = threading.Event()

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        if self.entered.is_set():
            self.entered_twice.set()
        self.entered.set()
        self.release.wait(10)
        self.delivered.append(delivery.dedup_key)
        return thread or ThreadRef("C1", delivery.dedup_key)


def runtime(tmp_path: Path, notifier: SlowNotifier) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    model = write_alerting_model(tmp_path / "m")
    rt = Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={}, notifier=notifier)
    with transaction(rt.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], rt.clock.now(), "push")
    return rt


def test_the_cycle_that_fires_an_alert_also_delivers_it(tmp_path: Path) -> None:
    notifier = SlowNotifier()
    notifier.release.set()
    rt = runtime(tmp_path, notifier)
    rt.evaluate_and_deliver()
    assert notifier.delivered == ["incident:1:1:open"]


def test_two_delivery_passes_at_once_deliver_each_message_once(tmp_path: Path) -> None:
    notifier = SlowNotifier()
    rt = runtime(tmp_path, notifier)
    rt.evaluator.evaluate()
    first = threading.Thread(target=rt.worker.run_once)
    first.start()
    assert notifier.entered.wait(5)
    second = threading.Thread(target=rt.worker.run_once)  # the scheduled pass arrives meanwhile
    second.start()
    # Give the second pass every chance to reach Slack too; with passes serialised it cannot.
    assert not notifier.entered_twice.wait(1.0)
    notifier.release.set()
    first.join(10)
    second.join(10)
    assert notifier.delivered == ["incident:1:1:open"]
