"""Baseline rules: compare a signal with what is usual for this time of week, not with a constant.

    orders-below-expected:
      flow: checkout-to-oms
      signal: orders_per_minute
      baseline: {season: weekly, history: 4w, resolution: 5m}
      below_expected: {by: 40%, min_expected: 5}
      for: 10m

A baseline rule is an alert rule (severity, runbook, owner routing, `for`, `keep_firing_for` all
work as usual); only its condition differs. The estimate itself is in ``alerting/baseline.py``.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from .base import Ident, Strict
from .durations import Duration
from .schema import AlertRule


class Season(StrEnum):
    """The period after which the pattern repeats."""

    DAILY = "daily"
    WEEKLY = "weekly"

    @property
    def length(self) -> timedelta:
        return timedelta(days=1) if self is Season.DAILY else timedelta(weeks=1)


class Estimate(StrEnum):
    """How the same-time-of-season values of past seasons become one expected value."""

    MEDIAN = "median"
    TRIMMED_MEAN = "trimmed_mean"


def _fraction(value: Any) -> Any:
    # "40%" reads better than 0.4 in a rule; both are accepted.
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"'{value}' is not a percentage; write e.g. 40%") from None
    return value


Fraction = Annotated[float, BeforeValidator(_fraction)]


class BaselineSpec(Strict):
    """What the expected value is made of."""

    season: Season = Season.WEEKLY
    history: Duration = Field(default=timedelta(weeks=4), description="How far back to look: 4w = 4 seasons.")
    resolution: Duration = Field(default=timedelta(minutes=5), description="Width of the slot averaged per season.")
    learning: Duration | None = Field(
        default=None,
        description="History needed before the rule alerts (default: half of 'history', at least 2 seasons).",
    )
    estimate: Estimate = Estimate.MEDIAN
    tolerance: float = Field(
        default=3.0, gt=0, description="Width of the band in robust standard deviations (1.4826 x MAD)."
    )
    calendar: Ident | None = Field(default=None, description="Business calendar; default: the only one defined.")

    @model_validator(mode="after")
    def _sane(self) -> BaselineSpec:
        season = self.season.length
        if self.history < season or self.history % season:
            raise ValueError(f"history must be a whole number of {self.season.value} seasons, e.g. 4w")
        if not timedelta(minutes=1) <= self.resolution <= timedelta(hours=1):
            raise ValueError("resolution must be between 1m and 1h")
        if self.learning is not None and not season <= self.learning <= self.history:
            raise ValueError("learning must be between one season and 'history'")
        return self

    @property
    def seasons(self) -> int:
        return self.history // self.season.length

    @property
    def min_seasons(self) -> int:
        """Seasons with data needed before the rule leaves the learning state."""
        if self.learning is not None:
            return max(1, self.learning // self.season.length)
        return min(self.seasons, max(2, self.seasons // 2))


class Deviation(Strict):
    """How far from expected counts as unusual."""

    by: Fraction = Field(gt=0, description="Relative deviation, e.g. 40%.")
    min_expected: float = Field(
        default=0.0, ge=0, description="Only alert when at least this much was expected (quiet hours stay quiet)."
    )


class BaselineRule(AlertRule):
    """An alert rule whose threshold is the expected band for this time of season."""

    baseline: BaselineSpec
    below_expected: Deviation | None = Field(default=None, description="Alert when the value falls under the band.")
    above_expected: Deviation | None = Field(default=None, description="Alert when the value rises over the band.")

    @model_validator(mode="after")
    def _baseline_only(self) -> BaselineRule:
        if self.above is not None or self.below is not None or self.recovery_threshold is not None:
            raise ValueError("a baseline rule uses below_expected/above_expected, not fixed thresholds")
        if self.below_expected is None and self.above_expected is None:
            raise ValueError("give below_expected, above_expected or both")
        return self
