"""Replicas: samples a follower stores are evaluated by the leader at once, through PostgreSQL NOTIFY.

Only the leader evaluates rules (cluster.py), but followers run their share of the probes and
take pushes. Without this, what they store waited for the leader's interval cycle. A follower
announces the signals it wrote on one channel; every replica listens on a connection of its own
and, while it leads, hands them to its triggered evaluation. A notification lost in a failover
only delays the evaluation to the next cycle: the samples themselves are in the database.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

CHANNEL = "flowhealth_samples"
MAX_PAYLOAD = 7000  # PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more
RECONNECT_AFTER = 1.0

SignalKey = tuple[str, str]


def payloads(keys: Iterable[SignalKey]) -> list[str]:
    """The keys as JSON arrays, each short enough for one NOTIFY."""
    out: list[str] = []
    batch: list[list[str]] = []
    size = 2
    for flow, signal in sorted(keys):
        item = [flow, signal]
        length = len(json.dumps(item)) + 1
        if batch and size + length > MAX_PAYLOAD:
            out.append(json.dumps(batch))
            batch, size = [], 2
        batch.append(item)
        size += length
    if batch:
        out.append(json.dumps(batch))
    return out


class SampleRelay:
    """Announces this replica's new samples; listens for the others' and passes them on while leading."""

    def __init__(self, engine: Engine, touch: Callable[[Iterable[SignalKey]], None], leads: Callable[[], bool]) -> None:
        self._engine = engine
        self._touch = touch
        self._leads = leads
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while a LISTEN connection is up
        self._thread: threading.Thread | None = None

    def announce(self, keys: Iterable[SignalKey]) -> None:
        """Tell the leader these signals have new samples (a follower calls this instead of evaluating)."""
        try:
            with self._engine.begin() as conn:
                for payload in payloads(keys):
                    conn.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
        except SQLAlchemyError as exc:
            log.warning("new samples not announced to the leader (its cycle evaluates them): %s", exc)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="sample-relay", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout)

    def _listen(self) -> None:
        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=0.5):
                            self._received(notice.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("not listening for other replicas' samples (retrying): %s", str(exc).splitlines()[0])
                self._stop.wait(RECONNECT_AFTER)

    def _received(self, payload: str) -> None:
        if not self._leads():
            return  # followers evaluate nothing; announcing again would only echo
        try:
            keys = [(str(flow), str(signal)) for flow, signal in json.loads(payload)]
        except (ValueError, TypeError):
            log.warning("ignored a malformed sample announcement")
            return
        self._touch(keys)
