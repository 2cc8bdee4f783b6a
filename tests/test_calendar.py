"""Maintenance windows and business hours in local time, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from flowhealth.alerting.calendar import in_business_hours, next_morning, window_active
from flowhealth.model.schema import BusinessHours, MaintenanceWindow

SUNDAY_NIGHT = MaintenanceWindow(
    systems=["erp"], timezone="Europe/Berlin", weekdays=["sun"], start=time(2), end=time(4), reason="patching"
)
OVERNIGHT = MaintenanceWindow(
    systems=["erp"], timezone="Europe/Berlin", weekdays=["fri"], start=time(23), end=time(1), reason="backup"
)


@pytest.mark.parametrize(
    ("utc", "active"),
    [
        ("2026-01-11T00:59", False),  # 01:59 CET
        ("2026-01-11T01:00", True),  # 02:00 CET
        ("2026-01-11T02:59", True),
        ("2026-01-11T03:00", False),  # 04:00 CET
        ("2026-07-12T00:30", True),  # 02:30 CEST: summer time is UTC+2
        ("2026-07-12T02:00", False),
        ("2026-01-12T01:30", False),  # a Monday
        # 29 March 2026: clocks jump from 02:00 to 03:00 local; the window is the hour 03:00-04:00.
        ("2026-03-29T00:30", False),  # 01:30 CET
        ("2026-03-29T01:30", True),  # 03:30 CEST
        ("2026-03-29T02:10", False),  # 04:10 CEST
        # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:00-04:00 local lasts three hours.
        ("2026-10-25T00:10", True),  # 02:10 CEST
        ("2026-10-25T01:30", True),  # 02:30 CET (the repeated hour)
        ("2026-10-25T02:50", True),  # 03:50 CET
        ("2026-10-25T03:10", False),  # 04:10 CET
    ],
)
def test_weekly_window_in_local_time(utc: str, active: bool) -> None:
    assert window_active(SUNDAY_NIGHT, datetime.fromisoformat(utc).replace(tzinfo=UTC)) is active


@pytest.mark.parametrize(
    ("utc", "active"),
    [("2026-01-09T22:30", True), ("2026-01-09T23:30", True), ("2026-01-10T00:10", False), ("2026-01-10T21:30", False)],
)
def test_window_across_midnight_belongs_to_its_start_day(utc: str, active: bool) -> None:
    assert window_active(OVERNIGHT, datetime.fromisoformat(utc).replace(tzinfo=UTC)) is active


def test_business_hours_follow_the_team_time_zone() -> None:
    hours = BusinessHours(
        timezone="America/New_York", days=["mon", "tue", "wed", "thu", "fri"], start=time(9), end=time(17)
    )
    assert in_business_hours(hours, datetime(2026, 1, 5, 14, 0, tzinfo=UTC))  # 09:00 New York
    assert not in_business_hours(hours, datetime(2026, 1, 5, 13, 59, tzinfo=UTC))
    assert not in_business_hours(hours, datetime(2026, 1, 10, 15, 0, tzinfo=UTC))  # Saturday
    assert in_business_hours(None, datetime(2026, 1, 10, 3, 0, tzinfo=UTC))


def test_until_tomorrow_means_nine_local_time() -> None:
    late = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)  # Saturday 23:30 CET; DST starts overnight
    assert next_morning(late, "Europe/Berlin") == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST


@pytest.mark.parametrize("end", ["24:00", "00:00"])
@pytest.mark.parametrize(
    ("utc", "active"),
    [
        ("2026-01-09T20:59", False),  # Friday 21:59 CET
        ("2026-01-09T21:00", True),  # 22:00
        ("2026-01-09T22:59", True),  # 23:59
        ("2026-01-09T23:00", False),  # Saturday 00:00: midnight ends it
    ],
)
def test_a_window_until_midnight_ends_with_its_start_day(end: str, utc: str, active: bool) -> None:
    window = MaintenanceWindow.model_validate(
        {
            "systems": ["erp"],
            "timezone": "Europe/Berlin",
            "weekdays": ["fri"],
            "start": "22:00",
            "end": end,
            "reason": "x",
        }
    )
    assert window_active(window, datetime.fromisoformat(utc).replace(tzinfo=UTC)) is active
