"""The seasonal estimate: exact expected values and bands on known series, learning, DST, the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowhealth.alerting.baseline import Expected, breaches, estimate, slot_ends
from flowhealth.model.baseline_rule import BaselineRule
from flowhealth.model.business_calendar import BusinessCalendar, DayKind

BERLIN = BusinessCalendar.model_validate(
    {
        "timezone": "Europe/Berlin",
        "promotions": [
            {"name": "Black Friday", "start": "2026-11-27T00:00", "end": "2026-11-28T00:00", "multiplier": 3}
        ],
        "closures": [{"name": "Christmas Day", "start": "2026-12-25"}],
    }
)


def rule(**baseline: object) -> BaselineRule:
    return BaselineRule.model_validate(
        {
            "flow": "checkout",
            "signal": "orders",
            "baseline": {"season": "weekly", "history": "4w", "resolution": "5m", **baseline},
            "below_expected": {"by": "40%", "min_expected": 5},
            "above_expected": {"by": "100%"},
            "severity": "critical",
            "summary": "s",
            "business_impact": "b",
            "runbook": "r",
        }
    )


def weekly(values_by_weeks_ago: dict[int, float], at: datetime, tz: str = "UTC"):
    """A slot reader that knows one value per past week at the same wall-clock time as `at`."""
    ends = slot_ends(rule(), tz, at)

    def mean(start: datetime, end: datetime) -> float | None:
        weeks_ago = ends.index(end) + 1
        assert end - start == timedelta(minutes=5)
        return values_by_weeks_ago.get(weeks_ago)

    return mean


FRIDAY_3PM = datetime(2026, 11, 13, 14, 0, tzinfo=UTC)  # Fri 15:00 in Berlin


def test_median_and_mad_band_on_a_known_series() -> None:
    # Weeks ago: 100, 110, 90, 300 (one odd week). Median 105; |dev| 5, 5, 15, 195 -> MAD 10.
    expected = estimate(rule(), None, FRIDAY_3PM, weekly({1: 100, 2: 110, 3: 90, 4: 300}, FRIDAY_3PM))
    assert expected.value == 105
    sigma = 1.4826 * 10
    assert expected.low == pytest.approx(min(105 - 3 * sigma, 105 * 0.6))  # 60.52
    assert expected.high == pytest.approx(max(105 + 3 * sigma, 105 * 2))  # 210
    assert expected.low == pytest.approx(60.522)
    assert expected.seasons == 4 and not expected.learning
    assert expected.slot == "Fri 14:00"  # no calendar: UTC
    assert expected.deviation(42) == pytest.approx(-0.6)


def test_trimmed_mean_drops_the_extremes() -> None:
    expected = estimate(
        rule(estimate="trimmed_mean"), None, FRIDAY_3PM, weekly({1: 100, 2: 110, 3: 90, 4: 300}, FRIDAY_3PM)
    )
    assert expected.value == 105  # mean of 100 and 110


def test_zero_at_a_busy_time_fires_and_quiet_hours_stay_quiet() -> None:
    busy = estimate(rule(), None, FRIDAY_3PM, weekly({1: 40, 2: 42, 3: 38, 4: 41}, FRIDAY_3PM))
    assert breaches(rule(), busy, 0.0)
    assert not breaches(rule(), busy, 35.0)
    night = estimate(rule(), None, FRIDAY_3PM, weekly({1: 2, 2: 3, 3: 2, 4: 1}, FRIDAY_3PM))
    assert not breaches(rule(), night, 0.0)  # expected 2: under min_expected 5
    assert breaches(rule(), busy, 200.0)  # above: more than twice the usual


def test_learning_until_enough_seasons() -> None:
    one_week = estimate(rule(), None, FRIDAY_3PM, weekly({1: 40}, FRIDAY_3PM))
    assert one_week.learning and one_week.needed == 2
    assert not breaches(rule(), one_week, 0.0)
    assert "learning until 2 weeks of history" in one_week.basis()
    assert not estimate(rule(), None, FRIDAY_3PM, weekly({1: 40, 3: 41}, FRIDAY_3PM)).learning
    nothing = estimate(rule(learning="4w"), None, FRIDAY_3PM, weekly({1: 40, 2: 41, 3: 39}, FRIDAY_3PM))
    assert nothing.learning and nothing.needed == 4


def test_same_wall_clock_time_across_the_dst_change_in_berlin() -> None:
    # Monday 30 March 2026 09:00 CEST (UTC+2); one week earlier was 09:00 CET (UTC+1).
    at = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    ends = slot_ends(rule(), "Europe/Berlin", at)
    assert ends[0] == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert ends[1] == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    # And back in autumn: Monday 2 Nov 2026 09:00 CET; a week earlier 09:00 CEST.
    autumn = slot_ends(rule(), "Europe/Berlin", datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    assert autumn[0] == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert autumn[1] == datetime(2026, 10, 19, 7, 0, tzinfo=UTC)


def test_a_promotion_is_expected_and_not_learned_as_normal() -> None:
    black_friday = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    during = estimate(
        rule(), BERLIN, black_friday, weekly({1: 100, 2: 100, 3: 100, 4: 100}, black_friday, BERLIN.timezone)
    )
    assert during.value == 300
    assert during.effect.kind is DayKind.PROMOTION
    assert during.basis() == "Fri 15:00, 4 weeks, promo Black Friday ×3 active"  # noqa: RUF001
    # A week after Black Friday, the promotion's 300 counts as 100: the usual Friday.
    after = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    later = estimate(rule(), BERLIN, after, weekly({1: 300, 2: 100, 3: 100, 4: 100}, after, BERLIN.timezone))
    assert later.value == 100 and later.low == pytest.approx(60)


def test_a_closed_day_expects_zero_and_is_left_out_of_history() -> None:
    christmas = datetime(2026, 12, 25, 14, 0, tzinfo=UTC)
    closed = estimate(rule(), BERLIN, christmas, weekly({1: 100, 2: 100, 3: 100}, christmas, BERLIN.timezone))
    assert (closed.value, closed.low, closed.high) == (0, 0, 0)
    assert not breaches(rule(), closed, 0.0)
    assert "Christmas Day: closed, zero expected" in closed.basis()
    # A week later the closed Friday (value 0) is skipped, not averaged in.
    after = datetime(2027, 1, 1, 14, 0, tzinfo=UTC)
    later = estimate(rule(), BERLIN, after, weekly({1: 0, 2: 100, 3: 100, 4: 100}, after, BERLIN.timezone))
    assert later.value == 100 and later.seasons == 3


def test_expected_is_a_plain_value_object() -> None:
    expected = Expected(10, 6, 20, 4, 4, 2, "Fri 15:00", "weekly")
    assert expected.basis() == "Fri 15:00, 4 weeks"
