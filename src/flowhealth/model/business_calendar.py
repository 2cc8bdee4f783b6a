"""The business calendar: promotions (expected multiplier) and closures (zero expected), in a time zone.

A calendar lives under ``calendars:`` in any file of flows/ and is shared by every flow; a
baseline rule uses the one it names, or the only one there is. Times are wall-clock times in the
calendar's time zone, so "Black Friday 00:00" stays midnight in Berlin across daylight saving.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, field_validator, model_validator

from .base import Ident, Strict
from .durations import Duration

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


def _local_start(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(0))


class Promotion(Strict):
    """A window in which the flow is expected to carry `multiplier` times its usual volume."""

    name: str
    start: datetime = Field(description="Local wall-clock time in the calendar's time zone.")
    end: datetime | None = Field(default=None, description="Exclusive; or give 'duration'.")
    duration: Duration | None = None
    multiplier: float = Field(gt=0, le=100, description="Black Friday: 3, a newsletter: 1.5.")
    flows: list[Ident] = Field(default_factory=list, description="Flows it affects; empty means every flow.")

    @model_validator(mode="after")
    def _one_end(self) -> Promotion:
        if (self.end is None) == (self.duration is None):
            raise ValueError("give either 'end' or 'duration'")
        if self.start.tzinfo is not None or (self.end is not None and self.end.tzinfo is not None):
            raise ValueError("write local times without an offset; the calendar's timezone applies")
        if self.local_end <= self.start:
            raise ValueError("the promotion ends before it starts")
        return self

    @property
    def local_end(self) -> datetime:
        return self.end if self.end is not None else self.start + (self.duration or timedelta(0))


class Closure(Strict):
    """A public holiday or store closure: no volume is expected, so none is missed."""

    name: str
    start: date | datetime = Field(description="A date (the whole day) or a local time.")
    end: date | datetime | None = Field(default=None, description="A date is inclusive; default: the start day.")
    flows: list[Ident] = Field(default_factory=list, description="Flows it affects; empty means every flow.")

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        for value in (self.start, self.end):
            if isinstance(value, datetime) and value.tzinfo is not None:
                raise ValueError("write local times without an offset; the calendar's timezone applies")
        if self.local_end <= self.local_start:
            raise ValueError("the closure ends before it starts")
        return self

    @property
    def local_start(self) -> datetime:
        return _local_start(self.start)

    @property
    def local_end(self) -> datetime:
        end = self.end if self.end is not None else self.start
        if isinstance(end, datetime):
            return end
        return datetime.combine(end + timedelta(days=1), time(0))  # a date end is the whole day


class BusinessCalendar(Strict):
    """Promotions and closures of one shop or country."""

    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin.")
    country: CountryCode | None = Field(default=None, description="ISO 3166 code, for per-country calendars.")
    promotions: list[Promotion] = Field(default_factory=list)
    closures: list[Closure] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value


class DayKind(StrEnum):
    """What the calendar says about one moment for one flow."""

    NORMAL = "normal"
    PROMOTION = "promotion"
    CLOSED = "closed"


@dataclass(frozen=True)
class CalendarEffect:
    """The calendar's effect at one moment: a multiplier (0 when closed) and the entry that set it."""

    multiplier: float = 1.0
    entry: str | None = None
    kind: DayKind = DayKind.NORMAL


NORMAL = CalendarEffect()


def _applies(flows: list[str], flow: str) -> bool:
    return not flows or flow in flows


def effect_at(calendar: BusinessCalendar | None, flow: str, at: datetime) -> CalendarEffect:
    """The multiplier in force at `at` (aware) for `flow`; closures win over promotions."""
    if calendar is None:
        return NORMAL
    local = at.astimezone(ZoneInfo(calendar.timezone)).replace(tzinfo=None)
    for closure in calendar.closures:
        if _applies(closure.flows, flow) and closure.local_start <= local < closure.local_end:
            return CalendarEffect(0.0, closure.name, DayKind.CLOSED)
    for promo in calendar.promotions:
        if _applies(promo.flows, flow) and promo.start <= local < promo.local_end:
            return CalendarEffect(promo.multiplier, promo.name, DayKind.PROMOTION)
    return NORMAL


def to_utc(calendar: BusinessCalendar, local: datetime) -> datetime:
    """A calendar wall-clock time as aware UTC."""
    return local.replace(tzinfo=ZoneInfo(calendar.timezone)).astimezone(UTC)


def _entries(calendar: BusinessCalendar) -> Iterator[tuple[str, int, datetime, datetime, list[str]]]:
    for i, p in enumerate(calendar.promotions):
        yield "promotions", i, p.start, p.local_end, p.flows
    for i, c in enumerate(calendar.closures):
        yield "closures", i, c.local_start, c.local_end, c.flows


def overlaps(calendar: BusinessCalendar) -> list[tuple[tuple[str | int, ...], str]]:
    """(location, message) for every entry that overlaps an earlier one on a shared flow.

    Two entries at once would leave the expected multiplier ambiguous (a promotion on a closed
    day, two promotions stacked), so the calendar must say which one holds.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: list[tuple[str, int, datetime, datetime, list[str]]] = []
    for entry in _entries(calendar):
        section, index, start, end, flows = entry
        for other_section, other_index, other_start, other_end, other_flows in seen:
            shared = not flows or not other_flows or bool(set(flows) & set(other_flows))
            if shared and start < other_end and other_start < end:
                problems.append(
                    (
                        (section, index),
                        f"overlaps {other_section}[{other_index}] ({other_start:%Y-%m-%d %H:%M} to "
                        f"{other_end:%Y-%m-%d %H:%M}); split or scope them with 'flows'",
                    )
                )
                break
        seen.append(entry)
    return problems
