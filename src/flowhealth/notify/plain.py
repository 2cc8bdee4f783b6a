"""Notices as plain sentences, for channels without Slack's emoji codes (PagerDuty, Teams, email, webhook).

The sentences are the chat ones from `wording.py`, so every channel says the same thing; only the
leading ``:emoji:`` code is dropped.
"""

from __future__ import annotations

import re

from ..alerting.notices import Message
from .wording import post_text, thread_line

_EMOJI = re.compile(r"^:[a-z0-9_+-]+:\s*")
# Slack mention markup (a team's slack_mentions) means nothing in email or Teams: show the id.
_SLACK_MENTION = re.compile(r"<(?:!subteam\^|@)([SUW][A-Z0-9]+)>")


def notice_lines(message: Message) -> list[str]:
    """One sentence per notice of a message, in order."""
    lines = []
    for notice in message.notices:
        line = post_text(notice, message.view) if message.kind == "post" else thread_line(notice, message.view)
        if line:
            lines.append(_SLACK_MENTION.sub(r"@\1", _EMOJI.sub("", line)))
    return lines


def headline(message: Message) -> str:
    """`[FIRING] #12 Orders are not reaching the ERP`, or the first notice when there is no incident."""
    view = message.view
    if view is None:
        lines = notice_lines(message)
        return lines[0] if lines else "flowhealth notification"
    return f"[{view.state_word.upper()}] #{view.incident} {view.title}"
