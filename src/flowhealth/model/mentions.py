"""Slack mentions a team declares: user-group ids (`S…`) and user ids (`U…`, `W…` on Enterprise Grid).

Slack only notifies people for mentions written with ids (`<!subteam^S0123ABC>`, `<@U0456DEF>`);
a handle such as `@erp-oncall` in a message is plain text that pings nobody. So the model takes
ids, checked by shape, and refuses a handle with the way to find the id.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Protocol

from pydantic import BeforeValidator

_ID = re.compile(r"^[SUW][A-Z0-9]{6,}$")


def _mention_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a Slack mention is a user group id (S…) or a user id (U…)")
    text = value.strip()
    if text.startswith("@"):
        raise ValueError(
            f"'{text}' is a handle, and Slack notifies nobody for a handle; give the user group's id"
            " (S…: in Slack open the group, ⋯ > Copy group ID) or the person's member id"
            " (U…: open the profile, ⋯ > Copy member ID)"
        )
    if not _ID.match(text):
        raise ValueError(f"'{text}' is not a Slack user group id (S0123ABC) or user id (U0456DEF)")
    return text


SlackMentionId = Annotated[str, BeforeValidator(_mention_id)]


class _MentionsTeam(Protocol):
    @property
    def oncall(self) -> str | None: ...

    @property
    def slack_mentions(self) -> list[str]: ...


def render(ids: list[str]) -> str:
    """Slack mention markup for ids: `<!subteam^S…>` for groups, `<@U…>` for people."""
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


def team_call(team: _MentionsTeam) -> str | None:
    """Who a message about the team calls: its Slack mentions, else its on-call handle (text)."""
    return render(team.slack_mentions) if team.slack_mentions else team.oncall
