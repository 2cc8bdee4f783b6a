"""The seasonal estimate behind baseline rules: what is usual for this time of week, and how usual.

For a moment `t` the estimate takes, for each of the last N seasons, the mean of the signal in the
slot of width `resolution` ending at the same wall-clock time one, two, ... N seasons earlier (in
the calendar's time zone, so Friday 15:00 stays Friday 15:00 across daylight saving). Each slot is
divided by the business-calendar multiplier that was in force then — a past Black Friday counts as
a third of itself, a closed day not at all — so a promotion is never learned as the new normal.
The expected value is the median (or trimmed mean) of those slots times the multiplier in force at
`t`; the spread is the median absolute deviation, scaled to a standard deviation (x 1.4826).

The band is the wider of the rule's relative deviation (`by: 40%`) and `tolerance` robust standard
deviations, so neither a noisy slot nor a perfectly regular one alerts on ordinary wobble.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..model.baseline_rule import BaselineRule, Estimate
from ..model.business_calendar import NORMAL, BusinessCalendar, CalendarEffect, DayKind, effect_at

MAD_TO_SIGMA = 1.4826
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# The mean of a signal over (start, end], or None when nothing was measured then.
SlotMean = Callable[[datetime, datetime], float | None]


@dataclass(frozen=True)
class Expected:
    """What a baseline rule expected at one moment and what that estimate is made of."""

    value: float
    low: float
    high: float
    seasons: int  # past seasons with data that went into the estimate
    wanted: int  # seasons the rule looks back
    needed: int  # seasons needed before it alerts
    slot: str  # "Fri 15:00"
    season: str  # "weekly"
    effect: CalendarEffect = NORMAL

    @property
    def learning(self) -> bool:
        return self.seasons < self.needed

    def deviation(self, observed: float) -> float | None:
        """(observed - expected) / expected, or None when nothing was expected."""
        return None if self.value == 0 else (observed - self.value) / self.value

    def basis(self) -> str:
        """What the estimate is made of, e.g. "Fri 15:00, 4 weeks, promo Black Friday x3 active"."""
        unit = "week" if self.season == "weekly" else "day"
        parts = [self.slot, f"{self.seasons} {unit}{'' if self.seasons == 1 else 's'}"]
        if self.learning:
            parts.append(f"learning until {self.needed} {unit}s of history")
        if self.effect.kind is DayKind.PROMOTION:
            parts.append(f"promo {self.effect.entry} ×{self.effect.multiplier:g} active")  # noqa: RUF001
        elif self.effect.kind is DayKind.CLOSED:
            parts.append(f"{self.effect.entry}: closed, zero expected")
        return ", ".join(parts)


def slot_ends(rule: BaselineRule, timezone: str, at: datetime) -> list[datetime]:
    """The same wall-clock moment 1..N seasons before `at`, as aware UTC datetimes."""
    local = at.astimezone(ZoneInfo(timezone))
    season = rule.baseline.season.length
    # Wall-clock arithmetic: an aware datetime minus days keeps the local time, and zoneinfo
    # recomputes the offset, so a week before Monday 09:00 CEST is Monday 09:00 CET.
    return [(local - season * k).astimezone(UTC) for k in range(1, rule.baseline.seasons + 1)]


def _center(points: list[float], how: Estimate) -> float:
    if how is Estimate.TRIMMED_MEAN and len(points) >= 4:
        cut = max(1, len(points) // 5)
        return statistics.fmean(sorted(points)[cut:-cut])
    return statistics.median(points)


def timezone_of(calendar: BusinessCalendar | None) -> str:
    return calendar.timezone if calendar is not None else "UTC"


def estimate(rule: BaselineRule, calendar: BusinessCalendar | None, at: datetime, slot_mean: SlotMean) -> Expected:
    """The expected value and band of `rule`'s signal at `at`, from the past seasons `slot_mean` reads."""
    spec = rule.baseline
    timezone = timezone_of(calendar)
    points: list[float] = []
    for end in slot_ends(rule, timezone, at):
        then = effect_at(calendar, rule.flow, end - spec.resolution / 2)
        if then.kind is DayKind.CLOSED:
            continue  # a closed day says nothing about a normal one
        mean = slot_mean(end - spec.resolution, end)
        if mean is not None:
            points.append(mean / then.multiplier)
    now_effect = effect_at(calendar, rule.flow, at - spec.resolution / 2)
    local = at.astimezone(ZoneInfo(timezone))
    slot = f"{WEEKDAY_NAMES[local.weekday()]} {local:%H:%M}"
    if not points:
        return Expected(0.0, 0.0, 0.0, 0, spec.seasons, spec.min_seasons, slot, spec.season.value, now_effect)
    center = _center(points, spec.estimate)
    sigma = MAD_TO_SIGMA * statistics.median(abs(p - center) for p in points)
    m = now_effect.multiplier
    value, spread = center * m, sigma * m * spec.tolerance
    low = value - spread
    high = value + spread
    if rule.below_expected is not None:
        low = min(low, value * (1 - rule.below_expected.by))
    if rule.above_expected is not None:
        high = max(high, value * (1 + rule.above_expected.by))
    return Expected(
        value, max(0.0, low), high, len(points), spec.seasons, spec.min_seasons, slot, spec.season.value, now_effect
    )


def breaches(rule: BaselineRule, expected: Expected, value: float) -> bool:
    """Whether `value` is unusual enough for `rule`: outside the band, and the rule cares about it."""
    if expected.learning:
        return False  # a new shop or signal: say "learning", never flood the channel
    below, above = rule.below_expected, rule.above_expected
    # Nothing at all where something is usual is always unusual, even when the band reaches zero
    # (low volumes are noisy, so their band is wide); `for` keeps a single empty slot quiet.
    if below is not None and expected.value >= below.min_expected and (value < expected.low or value <= 0):
        return True
    return above is not None and value > expected.high and value >= above.min_expected


@dataclass(frozen=True)
class Money:
    """An amount of money with its currency."""

    amount: float
    currency: str


def money_at_risk(missing_volume: float, average_value: float, currency: str) -> Money:
    """Missing volume x average order value; nothing is at risk when the volume is not missing."""
    return Money(max(0.0, missing_volume) * average_value, currency)
