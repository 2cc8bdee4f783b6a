"""Wall-clock questions in a team's or window's time zone: maintenance windows, business hours.

All inputs and outputs are aware UTC datetimes; conversion to local time happens here only, so
daylight-saving changes are handled by zoneinfo in one place.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..model.schema import BusinessHours, MaintenanceWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _local(at: datetime, tz: str) -> datetime:
    return at.astimezone(ZoneInfo(tz))


def window_active(window: MaintenanceWindow, at: datetime) -> bool:
    """Whether `at` falls in an occurrence of the recurring window (overnight windows included)."""
    local = _local(at, window.timezone)
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    now = local.time()
    if window.until_midnight:
        return today in window.weekdays and window.start <= now
    if window.start < window.end:
        return today in window.weekdays and window.start <= now < window.end
    # Crosses midnight: the evening part belongs to today's occurrence, the morning to yesterday's.
    return (today in window.weekdays and now >= window.start) or (yesterday in window.weekdays and now < window.end)


def in_business_hours(hours: BusinessHours | None, at: datetime) -> bool:
    """A team without business hours is always on."""
    if hours is None:
        return True
    local = _local(at, hours.timezone)
    return WEEKDAYS[local.weekday()] in hours.days and hours.start <= local.time() < hours.end


def next_morning(at: datetime, tz: str, hour: int = 9) -> datetime:
    """Tomorrow at `hour` o'clock local time, as UTC: 'silence until tomorrow'."""
    local = _local(at, tz)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime.combine(tomorrow, time(hour), tzinfo=ZoneInfo(tz)).astimezone(at.tzinfo)
