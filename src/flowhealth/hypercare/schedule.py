"""The weekly review as a scheduled job of the service: build it, post it, log what happened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ..clock import Clock
from ..errors import ConfigError, DeliveryError
from ..model.model import Model
from ..notify.slack import SlackNotifier
from ..settings import Settings
from .publish import post_review, slack_summary
from .review import build_review

log = logging.getLogger(__name__)
REVIEW_PERIOD = timedelta(days=7)


def review_trigger(schedule: str) -> Any:
    """An APScheduler cron trigger (UTC) from a crontab line like `0 8 * * mon`."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(schedule, timezone="UTC")
    except ValueError as exc:
        raise ConfigError(f"FLOWHEALTH_REVIEW_SCHEDULE '{schedule}' is not a crontab line: {exc}") from None


def review_job(settings: Settings, model: Model, engine: Engine, clock: Clock) -> Callable[[], str | None]:
    """The job: the last seven days posted to the review channel (or logged without a Slack token)."""
    channel = settings.review_channel
    if channel is None:
        raise ConfigError("the weekly review needs FLOWHEALTH_REVIEW_CHANNEL")

    def run() -> str | None:
        review = build_review(model, engine, clock.now(), REVIEW_PERIOD)
        slack = SlackNotifier.from_settings(settings)
        if slack is None:
            log.warning("weekly review (no SLACK_BOT_TOKEN, not posted):\n%s", slack_summary(review))
            return None
        try:
            return post_review(slack, channel, review)
        except DeliveryError:
            log.exception("weekly review could not be posted to %s", channel)
            return None

    return run
