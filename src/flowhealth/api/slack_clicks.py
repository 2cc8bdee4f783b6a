"""What a click on a Slack button does, off the event loop, and how the person who clicked is told.

Slack wants an answer within 3 seconds. The route answers at once and hands the click here, to
run in a worker thread after the response is sent: the database may be busy (a write lock held
by another process waits out SQLite's busy timeout), and `/healthz` and other requests keep being
served meanwhile. When the click is applied (or cannot be), the person who clicked gets an
ephemeral reply through the interaction's `response_url`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.webhook import WebhookClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..alerting.actions import ActionError, Actions, AlreadyResolved, incident_number
from ..alerting.calendar import next_morning
from ..alerting.classify import group_matchers
from ..alerting.silences import SilenceError
from ..clock import Clock
from ..errors import StoreError
from ..model.model import Model
from ..store.tables import Incident
from .slack_modal import SilenceRequest

log = logging.getLogger(__name__)

SILENCES = {"flowhealth_silence_1h": timedelta(hours=1), "flowhealth_silence_4h": timedelta(hours=4)}
STORE_RETRIES = 5  # each waits out the database's busy timeout before the next
RETRY_PAUSE_SECONDS = 2.0


@dataclass(frozen=True)
class Click:
    """One button press from a verified Slack interaction."""

    action_id: str
    value: str  # the incident number the button carries
    actor: str  # "<@U123>", so Slack renders the person
    response_url: str | None = None
    silence: SilenceRequest | None = None  # a submitted Silence… modal (or `/flowhealth silence`)


@dataclass(frozen=True)
class ClickHandler:
    """Applies clicks with the parts of the runtime they need."""

    actions: Actions
    model: Model
    engine: Engine
    clock: Clock
    ack_ttl: timedelta
    reply: Callable[[str, str], None] | None = None  # (response_url, text); default: Slack's webhook
    pause: Callable[[float], None] = time.sleep

    def handle(self, click: Click) -> str | None:
        """Apply a click, retrying while the database is unavailable; tell the clicker the outcome."""
        if not click.action_id.startswith("flowhealth_") or click.action_id.startswith("flowhealth_open_"):
            return None  # link buttons also report clicks; nothing to do
        outcome = self._apply_with_retries(click)
        if click.response_url:
            self._reply(click.response_url, outcome)
        return outcome

    def _apply_with_retries(self, click: Click) -> str:
        for attempt in range(1, STORE_RETRIES + 1):
            try:
                return self.apply(click)
            except StoreError as exc:
                log.warning(
                    "Slack action %s on %s: database unavailable (try %d): %s",
                    click.action_id,
                    click.value,
                    attempt,
                    exc,
                )
                self.pause(RETRY_PAUSE_SECONDS * attempt)
        return f"Could not apply this to incident #{click.value}: the state database is unavailable. Please try again."

    def apply(self, click: Click) -> str:
        """The action a button names; returns what happened, in words for the person who clicked."""
        try:
            return self._apply(click)
        except AlreadyResolved:
            return f"Incident #{click.value.strip().lstrip('#')} is resolved: nothing to change."
        except (ActionError, SilenceError) as exc:
            # Two people clicked at once, or the incident closed meanwhile: nothing to change.
            log.info("Slack action %s on %s not applied: %s", click.action_id, click.value, exc)
            return f"Not applied: {exc}."

    def _apply(self, click: Click) -> str:
        now = self.clock.now()
        if click.action_id == "flowhealth_ack":
            incident = self.actions.ack(click.value, click.actor, self.ack_ttl)
            return f"You acknowledged incident #{incident.id} until {incident.ack_expires_at:%Y-%m-%d %H:%M} UTC."
        if click.action_id == "flowhealth_resolve":
            incident = self.actions.resolve(click.value, click.actor)
            return f"You resolved incident #{incident.id}."
        if click.silence is not None:
            return self._silence_as_asked(click, click.silence)
        if click.action_id in SILENCES:
            until = now + SILENCES[click.action_id]
            reason = f"silenced from Slack for {SILENCES[click.action_id]}"
        elif click.action_id == "flowhealth_silence_tomorrow":
            until = next_morning(now, self._team_timezone(click.value))
            reason = "silenced from Slack until tomorrow morning"
        else:
            log.warning("unknown Slack action %s", click.action_id)
            return f"Unknown action {click.action_id}: nothing was changed."
        silence = self.actions.silence_incident(click.value, click.actor, until, reason)
        return f"You silenced incident #{click.value} until {until:%Y-%m-%d %H:%M} UTC (silence #{silence.id})."

    def _silence_as_asked(self, click: Click, ask: SilenceRequest) -> str:
        until = self.clock.now() + ask.duration
        if not ask.matchers or ask.matchers == self.incident_matchers(click.value):
            # What the incident is about: recorded on the incident and shown in its thread.
            silence = self.actions.silence_incident(click.value, click.actor, until, ask.reason)
        else:
            silence = self.actions.silence(ask.matchers, until, click.actor, ask.reason)
        return f"You silenced incident #{click.value} until {until:%Y-%m-%d %H:%M} UTC (silence #{silence.id})."

    def incident_matchers(self, incident_ref: str) -> dict[str, str] | None:
        """The matchers that silence what an incident is about (its team and group)."""
        with Session(self.engine) as session:
            number = incident_number(incident_ref)
            incident = session.get(Incident, number) if number is not None else None
            if incident is None:
                return None
            return {"team": incident.team, **group_matchers(incident.group_key)}

    def _team_timezone(self, incident_ref: str) -> str:
        with Session(self.engine) as session:
            number = incident_number(incident_ref)
            incident = session.get(Incident, number) if number is not None else None
        if incident is None:
            return "UTC"
        hours = self.model.teams[incident.team].business_hours
        return hours.timezone if hours else "UTC"

    def tell(self, response_url: str | None, text: str) -> None:
        """An ephemeral message to the person behind a request, when Slack gave a response_url."""
        if response_url:
            self._reply(response_url, text)

    def _reply(self, response_url: str, text: str) -> None:
        try:
            if self.reply is not None:
                self.reply(response_url, text)
                return
            response = WebhookClient(response_url, timeout=10).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            if response.status_code >= 300:
                log.warning("Slack response_url answered %s", response.status_code)
        except Exception as exc:  # the action is applied; a lost confirmation must not undo it
            log.warning("could not tell the Slack user the outcome: %s", type(exc).__name__)
