"""A deployment whose settlement reconciliation finds failing payments, for evidence tests.

The PSP and ERP sides are tables in a SQLite file the reconcile probe reads through a real
connection; 25 payments fail, more than the 10 a Slack message shows and the 20 the probe keeps.
One payment reference is hostile (`<!channel>`), as data from outside can be.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flowhealth.model import Model
from tests.support.models import write_model

HOSTILE_KEY = "<!channel>"
EVIDENCE_LIMIT = 20
FAILING = 25  # 23 booked with the wrong amount, one never booked, one booked without a settlement
# Largest gap first: the hostile reference (500 GBP never booked), then PAY-023, PAY-022, ...
FIRST_KEYS = [HOSTILE_KEY] + [f"PAY-{n:03d}" for n in range(23, 14, -1)]

FLOWS = """
connections:
  finance: {{url: "sqlite:///{db}"}}
flows:
  settlement:
    description: PSP settlements are booked in the ERP.
    object: payment
    source_of_truth: shop
    targets: [erp]
    pattern: file
    latency_class: finance-close
    owner: shop-team
    signals:
      mismatched:
        kind: mismatches
        description: Settlements that do not match the ledger.
        probe:
          kind: reconcile
          measure: mismatches
          key: payment_ref
          evidence_limit: {limit}
          interval: 1h
          source: {{kind: sql, connection: finance, query: "SELECT payment_ref, currency, amount FROM psp"}}
          target: {{kind: sql, connection: finance, query: "SELECT payment_ref, currency, amount FROM erp"}}
"""

RULES = """
rules:
  settlement-mismatch:
    flow: settlement
    signal: mismatched
    above: 0
    severity: critical
    summary: "{{ value | number }} settlement(s) {{ labels.mismatch }}"
    business_impact: Finance cannot close the month.
    runbook: orders-late
    group_by: [flow]
"""


def finance_db(path: Path) -> Path:
    """PSP settlements and ERP bookings with FAILING payments that do not match."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE psp (payment_ref TEXT, currency TEXT, amount NUMERIC)")
        db.execute("CREATE TABLE erp (payment_ref TEXT, currency TEXT, amount NUMERIC)")
        for n in range(1, 24):
            db.execute("INSERT INTO psp VALUES (?, 'EUR', ?)", (f"PAY-{n:03d}", 100 + n))
            db.execute("INSERT INTO erp VALUES (?, 'EUR', ?)", (f"PAY-{n:03d}", 100))  # short by n
        db.execute("INSERT INTO psp VALUES ('PAY-100', 'EUR', 50)")  # matches
        db.execute("INSERT INTO erp VALUES ('PAY-100', 'EUR', 50)")
        db.execute("INSERT INTO psp VALUES (?, 'GBP', 500)", (HOSTILE_KEY,))  # never booked
        db.execute("INSERT INTO erp VALUES ('PAY-X', 'CHF', 7)")  # booked, never settled
    return path


def write_settlement_model(root: Path, db: Path) -> Model:
    return write_model(root, FLOWS.format(db=db, limit=EVIDENCE_LIMIT), RULES)
