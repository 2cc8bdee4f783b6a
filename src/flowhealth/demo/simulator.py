"""A small commerce stack in one SQLite file: shop, middleware, ERP, warehouse, PSP, finance.

The reference deployment's SQL probes read these tables exactly as they would read the real
systems' databases. The simulator follows a clock (the demo's scaled clock), places orders,
lets the ERP accept them, ships, refunds and settles — and replays one incident: the ERP
stops accepting orders for a while, then works off the backlog.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..clock import Clock
from .spans import StageEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS shop_orders (
    order_number TEXT PRIMARY KEY, placed_at REAL NOT NULL, status TEXT NOT NULL,
    total REAL NOT NULL, currency TEXT NOT NULL, erp_accepted_at REAL);
CREATE TABLE IF NOT EXISTS middleware_outbound (
    id INTEGER PRIMARY KEY, order_number TEXT NOT NULL, enqueued_at REAL NOT NULL, delivered_at REAL);
CREATE TABLE IF NOT EXISTS erp_rejections (
    id INTEGER PRIMARY KEY, order_number TEXT NOT NULL, reason TEXT NOT NULL, rejected_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS manual_interventions (
    id INTEGER PRIMARY KEY, flow TEXT NOT NULL, record TEXT NOT NULL, reason TEXT NOT NULL,
    actor TEXT NOT NULL, performed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS shipments (
    id INTEGER PRIMARY KEY, order_number TEXT NOT NULL, shipped_at REAL NOT NULL, shop_updated_at REAL);
CREATE TABLE IF NOT EXISTS refunds (
    id INTEGER PRIMARY KEY, order_number TEXT NOT NULL, approved_at REAL NOT NULL,
    psp_confirmed_at REAL, psp_status TEXT NOT NULL DEFAULT 'pending');
CREATE TABLE IF NOT EXISTS shop_stock (sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS erp_stock (sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS product_imports (id INTEGER PRIMARY KEY, imported_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS shop_prices (sku TEXT PRIMARY KEY, price REAL NOT NULL);
CREATE TABLE IF NOT EXISTS erp_prices (sku TEXT PRIMARY KEY, price REAL NOT NULL);
CREATE TABLE IF NOT EXISTS price_imports (id INTEGER PRIMARY KEY, imported_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS product_import_errors (
    id INTEGER PRIMARY KEY, sku TEXT NOT NULL, error TEXT NOT NULL, failed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS psp_settlements (
    payment_ref TEXT PRIMARY KEY, currency TEXT NOT NULL, amount REAL NOT NULL, settled_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS erp_heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at REAL NOT NULL, ok INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS erp_outbound_payloads (
    order_number TEXT PRIMARY KEY, payload TEXT NOT NULL, sent_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS erp_sales_orders (
    external_ref TEXT PRIMARY KEY, currency TEXT NOT NULL, total REAL NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS erp_ledger (
    payment_ref TEXT PRIMARY KEY, currency TEXT NOT NULL, amount REAL NOT NULL, booked_at REAL NOT NULL);
"""

SKUS = [f"SKU-{n:05d}" for n in range(1, 41)]
# Now and then the shop's mapping sends a payload that breaks contract erp-sales-order.
CONTRACT_BREAKS = (
    ("shipping_address", "country", "de"),  # lower-case country code
    ("customer", "email", "jane.doe-at-example.com"),  # not an email address
    ("shipping_address", "postal_code", None),  # missing field
)
BREAK_RATE = 0.06
CURRENCIES = ("EUR", "EUR", "EUR", "GBP", "CHF")


@dataclass(frozen=True)
class Scenario:
    """When the ERP outage starts and how long it lasts, relative to the simulation start."""

    outage_start: timedelta = timedelta(minutes=8)
    outage_length: timedelta = timedelta(minutes=30)
    orders_per_minute: float = 1.5
    # After the ERP incident the checkout breaks: no orders at all, which only a baseline rule can
    # tell from a quiet night. None: no checkout outage.
    checkout_outage_start: timedelta | None = timedelta(minutes=40)
    checkout_outage_length: timedelta = timedelta(minutes=15)


class CommerceSimulator:
    """Advances the simulated stack to the clock's current time on each `step()`."""

    def __init__(self, path: Path, clock: Clock, scenario: Scenario | None = None, seed: int = 7) -> None:
        self.path = path
        self.clock = clock
        self.scenario = scenario or Scenario()
        self.random = random.Random(seed)
        self.started = clock.now()
        self._last = self.started
        self._order_seq = 100000
        self._lock = threading.Lock()
        self.events: list[str] = []
        self._journeys: list[StageEvent] = []
        self._announced: set[str] = set()
        self._payloads: dict[str, str] = {}  # order number -> payload, until the ERP accepts it
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)
        self._seed_history()

    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def erp_up(self, now: datetime) -> bool:
        elapsed = now - self.started
        return not (self.scenario.outage_start <= elapsed < self.scenario.outage_start + self.scenario.outage_length)

    def _seed_history(self) -> None:
        """Two quiet hours before the demo starts: orders accepted, stock fresh, books balanced."""
        now = self.started.timestamp()
        with self._db() as db:
            db.execute("BEGIN")
            for sku in SKUS:
                price = round(self.random.uniform(5, 250), 2)
                db.execute("INSERT OR REPLACE INTO erp_prices VALUES (?, ?)", (sku, price))
                db.execute("INSERT OR REPLACE INTO shop_prices VALUES (?, ?)", (sku, price))
                db.execute(
                    "INSERT OR REPLACE INTO shop_stock VALUES (?, ?, ?)",
                    (sku, self.random.randint(0, 400), now - 60),
                )
            db.execute("INSERT INTO price_imports (imported_at) VALUES (?)", (now - 1800,))
            db.execute("INSERT INTO product_imports (imported_at) VALUES (?)", (now - 3600,))
            # The ERP's stock equals the shop's: the stock sync works before the demo starts.
            db.execute("INSERT OR REPLACE INTO erp_stock SELECT sku, quantity FROM shop_stock")
            db.execute("INSERT OR REPLACE INTO erp_heartbeat VALUES (1, ?, 1)", (now - 30,))
            t = now - 7200
            while t < now - 60:
                self._place_order(db, t, accepted_at=t + self.random.uniform(20, 90))
                t += self.random.expovariate(self.scenario.orders_per_minute / 60)
            db.execute("COMMIT")

    def drain_journeys(self) -> list[StageEvent]:
        """Stage events since the last call: what the three systems' spans would report."""
        with self._lock:
            events, self._journeys = self._journeys, []
            return events

    def _place_order(self, db: sqlite3.Connection, at: float, accepted_at: float | None = None) -> str:
        self._order_seq += 1
        number = f"SO-{self._order_seq}"
        if accepted_at is None:  # history before the demo is quiet; new orders start a journey
            self._journeys += [StageEvent(number, "placed", at), StageEvent(number, "exported", at + 2)]
        currency = self.random.choice(CURRENCIES)
        total = round(self.random.uniform(19, 480), 2)
        db.execute(
            "INSERT INTO shop_orders VALUES (?, ?, 'paid', ?, ?, ?)",
            (number, at, total, currency, accepted_at),
        )
        payload = self._payload(number, at, currency, total)
        if accepted_at is None:
            self._payloads[number] = payload
        db.execute("INSERT INTO erp_outbound_payloads VALUES (?, ?, ?)", (number, payload, at + 2))
        if accepted_at is not None:
            db.execute("INSERT INTO erp_sales_orders VALUES (?, ?, ?, ?)", (number, currency, total, accepted_at))
        db.execute(
            "INSERT INTO middleware_outbound (order_number, enqueued_at, delivered_at) VALUES (?, ?, ?)",
            (number, at, accepted_at),
        )
        ref = f"PSP-{self._order_seq}"
        settled = at + 600
        db.execute("INSERT INTO psp_settlements VALUES (?, ?, ?, ?)", (ref, currency, total, settled))
        db.execute("INSERT INTO erp_ledger VALUES (?, ?, ?, ?)", (ref, currency, total, settled + 300))
        if accepted_at is not None:
            db.execute(
                "INSERT INTO shipments (order_number, shipped_at, shop_updated_at) VALUES (?, ?, ?)",
                (number, accepted_at + 1800, accepted_at + 1860),
            )
        return number

    def _payload(self, number: str, at: float, currency: str, total: float) -> str:
        """The order as the middleware sends it to the ERP (contract erp-sales-order)."""
        sku = self.random.choice(SKUS)
        document: dict[str, Any] = {
            "order_number": number,
            "placed_at": at,
            "currency": currency,
            "total": total,
            "customer": {"email": f"customer{self._order_seq}@example.com", "name": f"Customer {self._order_seq}"},
            "shipping_address": {"street": "Hauptstrasse 1", "postal_code": "10115", "city": "Berlin", "country": "DE"},
            "lines": [{"sku": sku, "quantity": 1, "price": total}],
        }
        if self.random.random() < BREAK_RATE:
            part, key, value = self.random.choice(CONTRACT_BREAKS)
            if value is None:
                del document[part][key]
            else:
                document[part][key] = value
        return json.dumps(document, sort_keys=True)

    def step(self) -> list[str]:
        """Move the stack forward to now; returns scenario events that happened meanwhile."""
        with self._lock:
            now = self.clock.now()
            start, end = self._last.timestamp(), now.timestamp()
            if end <= start:
                return []
            new_events = []
            with self._db() as db:
                db.execute("BEGIN IMMEDIATE")
                arrivals = self.random.random() < (end - start) * self.scenario.orders_per_minute / 60
                if arrivals and not self.checkout_down(now):
                    self._place_order(db, end)
                if self.erp_up(now):
                    # The ERP accepts what the middleware delivers, up to 40 orders a step (backlog drain).
                    waiting = db.execute(
                        "SELECT order_number FROM shop_orders WHERE erp_accepted_at IS NULL AND placed_at < ? ORDER BY placed_at LIMIT 40",
                        (end - 15,),
                    ).fetchall()
                    for (number,) in waiting:
                        payload = self._payloads.pop(number, None)
                        self._journeys.append(StageEvent(number, "accepted", end, payload=payload))
                        db.execute(
                            "UPDATE shop_orders SET erp_accepted_at = ? WHERE order_number = ?",
                            (end, number),
                        )
                        db.execute(
                            "INSERT OR IGNORE INTO erp_sales_orders "
                            "SELECT order_number, currency, total, ? FROM shop_orders WHERE order_number = ?",
                            (end, number),
                        )
                        db.execute(
                            "UPDATE middleware_outbound SET delivered_at = ? WHERE order_number = ?",
                            (end, number),
                        )
                # The ERP is reachable throughout: in this incident its order import is stuck, not the server.
                db.execute("UPDATE erp_heartbeat SET checked_at = ?, ok = 1 WHERE id = 1", (end,))
                # The ERP's stock export is a separate batch job that keeps running during the outage.
                db.execute(
                    "UPDATE shop_stock SET updated_at = ? WHERE sku IN (SELECT sku FROM shop_stock ORDER BY RANDOM() LIMIT 5)",
                    (end,),
                )
                if end - (db.execute("SELECT MAX(imported_at) FROM price_imports").fetchone()[0] or 0) > 1800:
                    db.execute("INSERT INTO price_imports (imported_at) VALUES (?)", (end,))
                if end - (db.execute("SELECT MAX(imported_at) FROM product_imports").fetchone()[0] or 0) > 3600:
                    db.execute("INSERT INTO product_imports (imported_at) VALUES (?)", (end,))
                db.execute("COMMIT")
            elapsed = now - self.started
            outage_end = self.scenario.outage_start + self.scenario.outage_length
            events = [
                ("outage", self.scenario.outage_start, "the ERP stops accepting orders (simulated outage)"),
                ("recovery", outage_end, "the ERP is back and works off the order backlog"),
            ]
            if self.scenario.checkout_outage_start is not None:
                checkout_end = self.scenario.checkout_outage_start + self.scenario.checkout_outage_length
                events += [
                    ("checkout", self.scenario.checkout_outage_start, "the shop checkout breaks: no orders come in"),
                    ("checkout-back", checkout_end, "the checkout works again"),
                ]
            for name, at, text in events:
                if elapsed >= at and name not in self._announced:
                    self._announced.add(name)
                    new_events.append(text)
            self._last = now
            self.events.extend(new_events)
            return new_events

    def checkout_down(self, now: datetime) -> bool:
        start = self.scenario.checkout_outage_start
        if start is None:
            return False
        return start <= now - self.started < start + self.scenario.checkout_outage_length

    def scenario_end(self) -> timedelta:
        ends = [self.scenario.outage_start + self.scenario.outage_length]
        if self.scenario.checkout_outage_start is not None:
            ends.append(self.scenario.checkout_outage_start + self.scenario.checkout_outage_length)
        return max(ends)
