"""Review figures from a seeded history with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from flowhealth.hypercare.report_md import render_markdown
from flowhealth.hypercare.review import OVERALL, _silence_flows, build_review
from flowhealth.model import Model, load_model
from flowhealth.store.tables import Silence
from tests.support.hypercare_history import END, seed
from tests.support.models import reference_without_stock_reconciliation


def test_figures_with_known_answers(reference_model: Model, state_engine: Engine) -> None:
    seed(state_engine)
    review = build_review(reference_model, state_engine, END, timedelta(days=7))
    o = review.overall
    assert (o.incidents, o.open_incidents, o.unacknowledged) == (5, 2, 1)
    assert (o.tta_median, o.tta_worst) == (780.0, 1800.0)  # 2m, 6m, 20m (first ack only), 30m
    assert (o.ttr_median, o.ttr_worst) == (3000.0, 7200.0)  # 5m, 50m, 2h; two still open at the end
    assert o.noisy_incidents == 1
    assert o.incidents_over_time == [0, 1, 1, 1, 1, 1, 0]  # a point per day over a week
    assert o.staleness_breaches == 4
    assert o.flapping == {"inventory-stale": 3}
    assert o.interventions == 5
    assert o.interventions_by_reason == {"resent": 4, "address_fix": 1}
    assert o.interventions_by_actor == {"ana": 3, "ben": 1, "unknown": 1}
    assert o.interventions_over_time == [1, 1, 1, 1, 0, 0, 1]
    assert o.rejected == 6  # 4 unknown_sku + 2 bad_vat at their peaks; the trace signal counts the same
    assert o.mismatches == {"EUR": 5.0, "USD": 1.0}  # peaks, the larger of two signals measuring it
    assert o.mismatches_open == {"EUR": 5.0, "USD": 1.0}  # and what was still open at the end
    assert o.mismatch_amount == {"EUR": 250.75, "USD": 30.0}
    assert o.silences == 2

    orders = review.flows["order-export"]
    assert (orders.incidents, orders.tta_median, orders.tta_worst) == (3, 780.0, 1200.0)
    assert (orders.ttr_median, orders.ttr_worst) == (3000.0, 7200.0)
    assert (orders.staleness_breaches, orders.silences, orders.rejected) == (1, 1, 6)
    stock = review.flows["inventory-sync"]
    assert (stock.incidents, stock.open_incidents, stock.worst_staleness, stock.silences) == (1, 1, 5400.0, 2)
    settlement = review.flows["payment-settlement"]
    assert (settlement.incidents, settlement.open_incidents, settlement.ttr_median) == (1, 1, None)
    assert review.flows["refunds"].incidents == 0

    before = review.previous[OVERALL]
    assert (before.incidents, before.tta_median, before.ttr_median, before.interventions) == (2, 600.0, 2400.0, 7)
    assert before.mismatch_amount == {"EUR": 80.0}
    changes = {c.name: (c.current, c.previous, c.direction) for c in review.changes()}
    assert changes["Incidents"] == (5, 2, "worse")
    assert changes["Median time to recover"] == (3000.0, 2400.0, "worse")
    assert changes["Manual interventions"] == (5, 7, "better")
    assert changes["Noisy incidents"] == (1, 0, "worse")
    assert changes["Staleness breaches"] == (4, 1, "worse")


def test_markdown_report(state_engine: Engine, tmp_path: Path) -> None:
    seed(state_engine)
    model = load_model(reference_without_stock_reconciliation(tmp_path / "m"))  # one open ownership question
    text = render_markdown(build_review(model, state_engine, END, timedelta(days=7)))
    assert text.startswith("# Hypercare review, 2025-03-03 00:00 to 2025-03-10 00:00 UTC\n")
    assert (
        "- **#2** critical order-export, opened Wed 05 08:00: acknowledged after 20m by ben; recovered after 2h; resolved by a person"
        in text
    )
    assert "  - Wed 08:20 Acknowledged by ben" in text
    assert "| Incidents | 5 | 2 | ▲ worse |" in text
    assert "| Median time to acknowledge | 13m | 10m | ▲ worse |" in text
    assert "| Manual interventions | 5 | 7 | ▼ better |" in text
    assert "| order-export | 3 ▲ worse | 13m / 20m | 50m / 2h |" in text
    assert "| resent | 4 |" in text and "| unknown | 1 |" in text
    assert "At worst during the period: 5 EUR, 1 USD record(s); amount 250.75 EUR, 30.00 USD." in text
    assert "- flapping: inventory-stale fired 3 times" in text
    assert "by carla until 2025-03-04 01:00: ERP patch rehearsal" in text
    assert "- **inventory-sync** (critical): Reconciliation of critical objects:" in text


def test_a_silence_counts_in_the_flows_whose_alerts_it_mutes(reference_model: Model) -> None:
    # The same matching as the alerting layer: a silence of the ERP's critical alerts is no
    # silence for a flow on the ERP whose rules are all warnings (price-sync, say).
    silence = Silence(
        matchers=json.dumps({"severity": "critical", "system": "erp"}),
        starts_at=END,
        ends_at=END,
        author="ops",
        reason="ERP patching",
        created_at=END,
    )
    assert _silence_flows(reference_model, silence) == {
        "erp-connectivity",
        "inventory-sync",
        "order-export",
        "payment-settlement",
    }
