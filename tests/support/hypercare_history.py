"""A seeded hypercare history with known answers: two weeks of incidents, fixes, firings and samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from flowhealth.store.db import transaction
from flowhealth.store.records import Intervention
from flowhealth.store.tables import AlertEvent, Incident, IncidentEvent, Sample, Silence

END = datetime(2025, 3, 10, tzinfo=UTC)
START = END - timedelta(days=7)
PREVIOUS = START - timedelta(days=7)
M = timedelta(minutes=1)


def _incident(
    session: object,
    key: str,
    opened: datetime,
    *,
    acks: list[tuple[timedelta, str]] = (),  # type: ignore[assignment]
    resolved: timedelta | None = None,
    by: str | None = None,
) -> None:
    team = key.split("|", 1)[0]
    incident = Incident(
        group_key=key,
        team=team,
        status="resolved" if resolved is not None else "open",
        severity="critical",
        opened_at=opened,
        notified_at=opened,
        resolved_at=opened + resolved if resolved is not None else None,
        resolved_by=by,
        acked_by=acks[-1][1] if acks else None,
        acked_at=opened + acks[-1][0] if acks else None,
        updated_at=opened,
    )
    session.add(incident)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    session.add(IncidentEvent(incident_id=incident.id, event="opened", at=opened))  # type: ignore[attr-defined]
    for after, actor in acks:
        session.add(IncidentEvent(incident_id=incident.id, event="acked", at=opened + after, actor=actor))  # type: ignore[attr-defined]
    if resolved is not None:
        session.add(IncidentEvent(incident_id=incident.id, event="resolved", at=opened + resolved, actor=by))  # type: ignore[attr-defined]


def _sample(session: object, flow: str, signal: str, labels: dict[str, str], value: float, at: datetime) -> None:
    session.add(  # type: ignore[attr-defined]
        Sample(
            flow=flow,
            signal=signal,
            labels=json.dumps(labels, sort_keys=True),
            value=value,
            observed_at=at,
            source="probe",
        )
    )


def _firing(session: object, rule: str, flow: str, at: datetime, labels: str = "{}") -> None:
    session.add(AlertEvent(rule=rule, labels=labels, flow=flow, event="firing", at=at))  # type: ignore[attr-defined]


def seed(engine: Engine) -> None:
    """Write the history the review tests know the answers to."""
    day = timedelta(days=1)
    orders, stock = "erp-integration|flow=order-export", "erp-integration|flow=inventory-sync"
    with transaction(engine) as s:
        # This period: five incidents.
        _incident(s, orders, START + day + 10 * 60 * M, acks=[(6 * M, "ana")], resolved=50 * M)
        _incident(
            s, orders, START + 2 * day + 8 * 60 * M, acks=[(20 * M, "ben"), (40 * M, "ana")], resolved=120 * M, by="ben"
        )
        _incident(s, orders, START + 3 * day + 12 * 60 * M, resolved=5 * M)  # cleared by itself: noise
        _incident(s, stock, START + 4 * day, acks=[(2 * M, "ana")])  # still open
        # Resolved only after the period ended: open as far as this period knows.
        _incident(s, "finance-ops|rule=settlement-mismatch", START + 5 * day, acks=[(30 * M, "dora")], resolved=3 * day)
        # The period before: two incidents.
        _incident(s, orders, PREVIOUS + day, acks=[(10 * M, "ana")], resolved=60 * M)
        _incident(s, orders, PREVIOUS + 2 * day, resolved=20 * M)  # nobody acted, but not short: not noise
        # Manual interventions: five in the period (one exactly at its start, one at its end is the next one's).
        fixes = [
            (START, "resent", "ana"),
            (START + day, "resent", "ana"),
            (START + 2 * day, "resent", "ana"),
            (START + 3 * day, "address_fix", "ben"),
            (START + 6 * day, "resent", None),
            (END, "resent", "ana"),
        ]
        fixes += [(PREVIOUS + i * 60 * M, "resent", "ana") for i in range(7)]
        for at, reason, actor in fixes:
            s.add(Intervention(flow="order-export", reason=reason, record="SO-1", actor=actor, performed_at=at))
        # Alert firings: inventory-stale three times (flapping), order-export-delayed once.
        for hours in (1, 30, 70):
            _firing(s, "inventory-stale", "inventory-sync", START + hours * 60 * M)
        _firing(s, "order-export-delayed", "order-export", START + 2 * day)
        _firing(s, "orders-rejected-by-erp", "order-export", START + 2 * day, '{"reason":"unknown_sku"}')
        _firing(s, "inventory-stale", "inventory-sync", PREVIOUS + day)
        # Samples.
        pay = "payment-settlement"
        _sample(s, pay, "settlement_mismatches", {"currency": "EUR"}, 2, START + day)
        _sample(s, pay, "settlement_mismatches", {"currency": "EUR"}, 5, START + 6 * day)
        _sample(s, pay, "settlement_mismatches", {"currency": "USD"}, 1, START + 6 * day)
        _sample(s, pay, "settlement_mismatches", {"currency": "EUR"}, 99, END)  # next period's
        _sample(s, pay, "ledger_reconciliation", {"currency": "EUR", "mismatch": "amount_mismatch"}, 3, START + 6 * day)
        _sample(
            s, pay, "ledger_reconciliation", {"currency": "EUR", "mismatch": "missing_in_target"}, 1, START + 6 * day
        )
        _sample(s, pay, "mismatch_amount", {"currency": "EUR"}, 120.5, START + day)
        _sample(s, pay, "mismatch_amount", {"currency": "EUR"}, 250.75, START + 6 * day)
        _sample(s, pay, "mismatch_amount", {"currency": "USD"}, 30, START + 6 * day)
        _sample(s, pay, "mismatch_amount", {"currency": "EUR"}, 80, PREVIOUS + day)
        _sample(s, "order-export", "rejected_orders", {"reason": "unknown_sku"}, 4, START + 2 * day)
        _sample(s, "order-export", "rejected_orders", {"reason": "unknown_sku"}, 1, START + 3 * day)
        _sample(s, "order-export", "rejected_orders", {"reason": "bad_vat"}, 2, START + 3 * day)
        _sample(
            s, "order-export", "journey_rejections", {"reason": "unknown_sku", "stage": "exported"}, 4, START + 2 * day
        )
        _sample(s, "inventory-sync", "stock_age", {}, 5400, START + 30 * 60 * M)
        _sample(s, "inventory-sync", "stock_age", {}, 20, START + 31 * 60 * M)
        # Silences: one on the flow, one on the ERP (which every ERP flow touches).
        for matchers, author in (({"flow": "inventory-sync"}, "carla"), ({"system": "erp"}, "ben")):
            s.add(
                Silence(
                    matchers=json.dumps(matchers),
                    starts_at=START + day,
                    ends_at=START + day + 60 * M,
                    author=author,
                    reason="ERP patch rehearsal",
                    created_at=START + day,
                )
            )


def seed_human_actions(engine: Engine) -> None:
    """On top of `seed`: two short incidents people acted on, and mismatches that happened and were cleared.

    Neither incident is noise: one was fixed by hand (an intervention while it was open), the other
    silenced. CHF mismatches peak at 3 on day 3 and are gone by day 4.
    """
    day = timedelta(days=1)
    orders, stock = "erp-integration|flow=order-export", "erp-integration|flow=inventory-sync"
    with transaction(engine) as s:
        _incident(s, orders, START + 5 * day + 6 * 60 * M, resolved=10 * M)
        s.add(
            Intervention(
                flow="order-export",
                reason="data_fix",
                record="SO-9",
                actor="fay",
                performed_at=START + 5 * day + 6 * 60 * M + 4 * M,
            )
        )
        _incident(s, stock, START + 5 * day + 9 * 60 * M, resolved=8 * M)
        s.add(
            Silence(
                matchers=json.dumps({"flow": "inventory-sync"}),
                starts_at=START + 5 * day + 9 * 60 * M + 2 * M,
                ends_at=START + 5 * day + 11 * 60 * M,
                author="erin",
                reason="supplier feed <b>known</b> late",
                created_at=START + 5 * day + 9 * 60 * M + 2 * M,
            )
        )
        pay = "payment-settlement"
        _sample(s, pay, "settlement_mismatches", {"currency": "CHF"}, 3, START + 2 * day)
        _sample(s, pay, "settlement_mismatches", {"currency": "CHF"}, 0, START + 3 * day)
