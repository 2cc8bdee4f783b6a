"""Signal history binned by the database and firing periods, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from flowhealth.model import Model
from flowhealth.store.db import transaction
from flowhealth.store.tables import AlertEvent, Sample
from flowhealth.web.history import firing_periods, signal_histories

START = datetime(2026, 1, 5, tzinfo=UTC)
END = START + timedelta(hours=24)


def test_peaks_per_bin_and_firing_periods(reference_model: Model, state_engine: Engine) -> None:
    with transaction(state_engine) as session:
        for minutes, value in ((0, 1.0), (10, 5.0), (59, 2.0), (60, 0.5), (23 * 60 + 59, 7.0), (24 * 60, 9.0)):
            at = START + timedelta(minutes=minutes)
            session.add(Sample(flow="order-export", signal="export_delay", value=value, observed_at=at, source="sql"))
        session.add(
            Sample(
                flow="order-export",
                signal="export_delay",
                value=99.0,
                observed_at=START - timedelta(seconds=1),
                source="sql",
            )
        )
        session.add(
            Sample(
                flow="order-export",
                signal="export_delay",
                value=None,
                observed_at=START + timedelta(hours=5),
                source="sql",
            )
        )
        events = [
            ("firing", START - timedelta(hours=2)),  # started before the range, resolved inside it
            ("resolved", START + timedelta(hours=1)),
            ("firing", START + timedelta(hours=20)),  # still firing at the end
        ]
        for event, at in events:
            session.add(AlertEvent(rule="order-export-delayed", flow="order-export", event=event, at=at, value=1.0))
    with Session(state_engine) as session:
        histories = signal_histories(session, reference_model, START, END, 24, {"order-export"})
        periods = firing_periods(session, reference_model, START, END, {"order-export"})
    [series] = histories[("order-export", "export_delay")].series
    values = [p.value for p in series.points]
    assert values[0] == 5.0  # the peak of the first hour; the sample before the range is left out
    assert values[1] == 0.5
    assert values[5] is None  # only an unknown sample: a gap, not zero
    assert values[23] == 9.0  # the last hour, and the sample at exactly `end`
    assert (series.peak, series.last) == (9.0, 9.0)
    assert histories[("order-export", "rejected_orders")].series == []
    assert [(p.start, p.end) for p in periods["order-export-delayed"]] == [
        (START - timedelta(hours=2), START + timedelta(hours=1)),
        (START + timedelta(hours=20), None),
    ]
