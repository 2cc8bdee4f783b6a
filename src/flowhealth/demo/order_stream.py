"""A realistic order stream for benchmarks, tests and the demo: seasonality, noise, growth, incidents.

Orders per minute follow a daily curve (quiet nights, a lunch and an evening peak), busier
weekends, slow growth and Poisson noise; the signal is what the order-intake probe reports, the
order rate over the last 5 minutes. Calendar entries (a promotion, a holiday) and labelled
incidents change the true rate; each incident keeps its window so detection can be scored.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..alerting.backtest import Point

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Incident:
    """A labelled deviation: from `start` for `length`, the rate is multiplied by `factor(progress)`."""

    name: str
    start: datetime
    length: timedelta
    factor: float  # at the end of the incident; `ramp` interpolates from 1 to it
    ramp: bool = False

    def multiplier(self, at: datetime) -> float:
        if not self.start <= at < self.start + self.length:
            return 1.0
        if not self.ramp:
            return self.factor
        progress = (at - self.start) / self.length
        return 1.0 + (self.factor - 1.0) * progress


@dataclass
class StreamSpec:
    """What the generated shop looks like."""

    start: datetime
    weeks: int
    peak_per_minute: float = 120.0
    night_per_minute: float = 8.0
    weekly_growth: float = 0.005
    seed: int = 15
    flat: bool = False  # the same rate at every hour and weekday (the demo's simulator)
    promotions: list[tuple[datetime, timedelta, float, float]] = field(
        default_factory=list
    )  # start, len, announced, real
    closures: list[tuple[datetime, timedelta]] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)


def usual_per_minute(spec: StreamSpec, at: datetime) -> float:
    """The true usual rate at `at`, before calendar and incidents."""
    if spec.flat:
        return spec.peak_per_minute
    local = at.astimezone(BERLIN)
    hour = local.hour + local.minute / 60
    # Two peaks (13:00 and 20:00) on a quiet night floor.
    shape = 0.55 * math.exp(-(((hour - 13) / 2.5) ** 2)) + 1.0 * math.exp(-(((hour - 20) / 2.2) ** 2))
    shape += 0.25 * math.exp(-(((hour - 10) / 2.0) ** 2))
    weekday = local.weekday()
    week_factor = (0.9, 0.95, 1.0, 1.0, 1.1, 1.15, 1.25)[weekday]
    growth: float = math.pow(1 + spec.weekly_growth, (at - spec.start) / timedelta(weeks=1))
    return (
        (spec.night_per_minute + (spec.peak_per_minute - spec.night_per_minute) * min(1.0, shape))
        * week_factor
        * growth
    )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def true_rate(spec: StreamSpec, at: datetime) -> float:
    """Orders per minute after promotions, closures and incidents."""
    rate = usual_per_minute(spec, at)
    for start, length, _, real in spec.promotions:
        if start <= at < start + length:
            rate *= real
    for start, length in spec.closures:
        if start <= at < start + length:
            return 0.0
    for incident in spec.incidents:
        rate *= incident.multiplier(at)
    return rate


def generate(spec: StreamSpec) -> list[Point]:
    """One sample a minute: orders per second over the last 5 minutes, as the probe reports it."""
    rng = random.Random(spec.seed)
    counts: list[int] = []
    points: list[Point] = []
    for minute in range(spec.weeks * 7 * 24 * 60):
        at = spec.start + timedelta(minutes=minute)
        counts.append(_poisson(rng, true_rate(spec, at)))
        window = counts[-5:]
        points.append(Point(at, sum(window) / (60.0 * len(window))))
    return points
