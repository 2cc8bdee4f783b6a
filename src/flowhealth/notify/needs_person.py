"""Delivery errors that only a person can fix, and where they are shown.

`not_in_channel`, a bad token, a missing scope, a channel that does not exist (or is private and
the bot was not invited): retrying does not help, so the message waits (retried every 10 minutes)
with the reason in `last_error`. This module names the reason and the fix, so the API
(`GET /api/v1/outbox`), the metric `flowhealth_notifications_waiting{receiver,reason}` and the
`flowhealth-delivery-failing` alert line in the log all say the same thing.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum

from sqlmodel import Session, col, select

from ..store.tables import OutboxMessage


class PersonFix(StrEnum):
    """Slack error codes a person must act on."""

    NOT_IN_CHANNEL = "not_in_channel"
    CHANNEL_NOT_FOUND = "channel_not_found"
    INVALID_AUTH = "invalid_auth"
    NOT_AUTHED = "not_authed"
    TOKEN_REVOKED = "token_revoked"
    TOKEN_EXPIRED = "token_expired"
    ACCOUNT_INACTIVE = "account_inactive"
    MISSING_SCOPE = "missing_scope"
    NO_PERMISSION = "no_permission"


_TOKEN_FIX = "check SLACK_BOT_TOKEN (a current bot token of the installed Slack app)"
FIXES: dict[PersonFix, str] = {
    PersonFix.NOT_IN_CHANNEL: "invite the bot to the channel (/invite @flowhealth)",
    PersonFix.CHANNEL_NOT_FOUND: "check the team's Slack channel in the model, or invite the bot to the private channel",
    PersonFix.INVALID_AUTH: _TOKEN_FIX,
    PersonFix.NOT_AUTHED: _TOKEN_FIX,
    PersonFix.TOKEN_REVOKED: _TOKEN_FIX,
    PersonFix.TOKEN_EXPIRED: _TOKEN_FIX,
    PersonFix.ACCOUNT_INACTIVE: _TOKEN_FIX,
    PersonFix.MISSING_SCOPE: "add the missing scope to the Slack app (README lists them) and reinstall it",
    PersonFix.NO_PERMISSION: "give the Slack app permission to post in the channel",
}
ALERT = "flowhealth-delivery-failing"
_CODE = re.compile(r"\b(" + "|".join(re.escape(code.value) for code in PersonFix) + r")\b")
_CHANNEL_MISSING = re.compile(r"^channel \S+ not found")  # the notifier's own lookup of a channel name


def person_fix(error: str | None) -> PersonFix | None:
    """The person-fixable reason a delivery error names, if any."""
    if not error:
        return None
    if _CHANNEL_MISSING.match(error):
        return PersonFix.CHANNEL_NOT_FOUND
    found = _CODE.search(error)
    return PersonFix(found.group(1)) if found else None


def alert_line(receiver: str, channel: str, reason: PersonFix) -> str:
    """The line the log shows while a message waits on a person (grep for the alert name)."""
    return f"ALERT {ALERT} receiver={receiver} channel={channel} reason={reason.value}: {FIXES[reason]}"


def waiting_on_people(session: Session) -> Counter[tuple[str, PersonFix]]:
    """Messages waiting (not delivered, not dead-lettered) on a person, by receiver and reason."""
    rows = session.exec(
        select(OutboxMessage.receiver, OutboxMessage.last_error).where(
            col(OutboxMessage.delivered_at).is_(None),
            col(OutboxMessage.dead_lettered_at).is_(None),
            col(OutboxMessage.last_error).is_not(None),
        )
    ).all()
    counts: Counter[tuple[str, PersonFix]] = Counter()
    for receiver, error in rows:
        reason = person_fix(error)
        if reason is not None:
            counts[(receiver, reason)] += 1
    return counts
