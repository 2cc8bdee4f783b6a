"""Hands each outbox message to its receiver's channel: Slack (or the console) or a team's other channels.

The notifiers for PagerDuty, Teams, webhooks and email are built from the model once and resolve
their ``${ENV}`` secrets at delivery time, so a missing variable leaves the message queued with
the reason instead of failing start-up.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..alerting.routing import SLACK, receiver_key
from ..errors import DeliveryRejected
from ..model.model import Model
from ..model.receivers import EmailReceiver, PagerDutyReceiver, Receiver, TeamsReceiver, WebhookReceiver
from ..store.outbox import ThreadRef
from .base import Delivery, Notifier
from .email import EmailNotifier
from .pagerduty import PagerDutyNotifier
from .teams import TeamsNotifier
from .webhook import WebhookNotifier


def channel_notifier(key: str, receiver: Receiver, environ: Mapping[str, str], *, pagerduty_url: str) -> Notifier:
    """The notifier of one receiver (`key`: team/receiver)."""
    match receiver:
        case PagerDutyReceiver():
            return PagerDutyNotifier(key, receiver, environ, events_url=pagerduty_url)
        case TeamsReceiver():
            return TeamsNotifier(key, receiver, environ)
        case WebhookReceiver():
            return WebhookNotifier(key, receiver, environ)
        case EmailReceiver():
            return EmailNotifier(key, receiver, environ)


class Fanout:
    """A notifier that delivers through the chat notifier or the receiver the message names."""

    def __init__(
        self,
        chat: Notifier,
        model: Model,
        environ: Mapping[str, str],
        *,
        pagerduty_url: str = "https://events.pagerduty.com",
        channels: Mapping[str, Notifier] | None = None,
    ) -> None:
        """`channels` replaces the notifiers built from the model (team/receiver → notifier), for tests."""
        self.chat = chat
        self.min_interval_per_channel = chat.min_interval_per_channel
        self._environ = environ
        self._pagerduty_url = pagerduty_url
        self._fixed = dict(channels) if channels is not None else None
        self.use_model(model)

    def use_model(self, model: Model) -> None:
        """Deliver through the receivers a (reloaded) model declares; messages queued for others wait."""
        receivers = {
            receiver_key(team_id, name): receiver
            for team_id, team in model.teams.items()
            for name, receiver in team.receivers.items()
        }
        self._kinds = {key: receiver.kind for key, receiver in receivers.items()}
        self._channels: dict[str, Notifier] = (
            dict(self._fixed)
            if self._fixed is not None
            else {
                key: channel_notifier(key, receiver, self._environ, pagerduty_url=self._pagerduty_url)
                for key, receiver in receivers.items()
            }
        )

    def channel_kind(self, receiver: str) -> str:
        """What kind of channel an outbox receiver is (slack, pagerduty, teams, webhook, email), for metrics."""
        return SLACK if receiver == SLACK else self._kinds.get(receiver, "unknown")

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        if delivery.receiver == SLACK:
            return self.chat.deliver(delivery, thread)
        notifier = self._channels.get(delivery.receiver)
        if notifier is None:
            # Kept, not dropped: the receiver may come back with the next model reload.
            raise DeliveryRejected(f"receiver {delivery.receiver} is not declared in the model")
        return notifier.deliver(delivery, thread)
