"""What a baseline alert expected, as one small typed object on the alert, and its wording.

The incident view carries it as `AlertView.expected`; every renderer (Slack, console, board, API)
words it through `expected_line` (notify/expected.py), so they all say the same thing:

    expected 1.20 (band 0.72-2.40), now 0.10: -92%; Fri 15:00, 4 weeks, promo Black Friday x3 active;
    about 4,800 EUR at risk per hour
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..model.durations import format_number
from ..model.schema import AverageValue, SignalKind
from .baseline import Expected, money_at_risk

SECONDS_PER_HOUR = 3600.0


class ExpectedNote(BaseModel):
    """The expectation behind a baseline alert, as shown to people (JSON in the outbox)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    value: float
    low: float
    high: float
    deviation_percent: float | None
    basis: str
    learning: bool
    money_at_risk: float | None = None
    currency: str | None = None
    money_per: str | None = None  # "hour" for rates; None for counts


def expected_note(
    expected: Expected, observed: float | None, kind: SignalKind, average_value: AverageValue | None
) -> ExpectedNote:
    """The note for an alert whose value is `observed` (None: unknown)."""
    deviation = None if observed is None else expected.deviation(observed)
    money: float | None = None
    per: str | None = None
    if average_value is not None and observed is not None and not expected.learning:
        missing = expected.value - observed
        # A throughput is per second: the money at risk is given per hour of the shortfall.
        if kind is SignalKind.THROUGHPUT:
            missing, per = missing * SECONDS_PER_HOUR, "hour"
        money = money_at_risk(missing, average_value.amount, average_value.currency).amount
    return ExpectedNote(
        value=expected.value,
        low=expected.low,
        high=expected.high,
        deviation_percent=None if deviation is None else round(deviation * 100, 1),
        basis=expected.basis(),
        learning=expected.learning,
        money_at_risk=money,
        currency=average_value.currency if money is not None and average_value else None,
        money_per=per,
    )


def _number(value: float) -> str:
    # Rates like 0.025 orders/s need significant digits, not two decimals.
    return f"{value:.3g}" if 0 < abs(value) < 10 else format_number(value)


def expected_line(note: ExpectedNote, observed_text: str) -> str:
    """One line for any renderer: expected value and band, deviation, basis, money at risk."""
    parts = [f"expected {_number(note.value)} (band {_number(note.low)}-{_number(note.high)})"]
    if note.deviation_percent is not None:
        parts[0] += f", now {observed_text}: {note.deviation_percent:+.0f}%"
    parts.append(note.basis)
    if note.money_at_risk and note.currency:
        per = f" per {note.money_per}" if note.money_per else ""
        parts.append(f"about {format_number(round(note.money_at_risk))} {note.currency} at risk{per}")
    return "; ".join(parts)
