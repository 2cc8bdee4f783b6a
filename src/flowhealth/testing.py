"""Helpers for testing flowhealth and models built on it, without sleeping or patching internals.

* `FakeClock`: time that moves only when told (`advance`), with a monotonic reading for pacing;
  pass it as `clock=` and its `monotonic` as `pacing_clock=` to `Runtime.build`.
* `CapturingNotifier`: a notifier that keeps every delivery as typed data (`messages`,
  `notices`), for asserting *what* would be said without rendering Slack blocks.
* `probe_registry(**kinds)`: the built-in probe registry with some kinds built by your own
  factories (`Runtime.build(..., probes=probe_registry(sql=my_factory))`).
* `metrics_registry()`: a fresh Prometheus registry, so tests never share counters.

Example::

    clock = FakeClock()
    notifier = CapturingNotifier()
    runtime = Runtime.build(settings, model, clock=clock, notifier=notifier,
                            pacing_clock=clock.monotonic, registry=metrics_registry())
    ...
    runtime.worker.run_once()
    assert [type(n).__name__ for n in notifier.notices] == ["Opened"]
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from .alerting.notices import Message, Notice
from .clock import FakeClock
from .notify.base import Delivery
from .probes.registry import Factory, with_factories
from .store.outbox import ThreadRef

__all__ = ["CapturingNotifier", "FakeClock", "metrics_registry", "probe_registry"]


class CapturingNotifier:
    """Accepts every delivery and keeps it; one thread per incident, as a chat channel would."""

    min_interval_per_channel = 0.0

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        with self._lock:
            self.deliveries.append(delivery)
        return thread or ThreadRef(delivery.channel, delivery.thread_key)

    @property
    def messages(self) -> list[Message]:
        """Every delivered message, oldest first."""
        with self._lock:
            return [d.message for d in self.deliveries]

    @property
    def notices(self) -> list[Notice]:
        """Every notice of every delivered message, oldest first."""
        return [n for m in self.messages for n in m.notices]

    def to(self, channel: str) -> list[Message]:
        """Messages delivered to one channel."""
        with self._lock:
            return [d.message for d in self.deliveries if d.channel == channel]

    def clear(self) -> None:
        with self._lock:
            self.deliveries.clear()


def probe_registry(**kinds: Factory) -> dict[str, Factory]:
    """The built-in probe factories with `kinds` replaced (e.g. `sql=lambda spec, ctx, flow: stand_in`)."""
    return with_factories(**kinds)


def metrics_registry() -> CollectorRegistry:
    return CollectorRegistry()
