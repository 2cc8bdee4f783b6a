"""Slack mrkdwn that data cannot break: escaping, code blocks and cuts that keep markup balanced.

Everything that comes from data or people (labels, evidence cells, summaries rendered from
templates, actor names, silence reasons) is escaped as Slack asks (``&``, ``<``, ``>``), so a label
``<!channel>`` shows as text instead of pinging the channel, and ``<https://x|Open runbook>`` in a
value cannot disguise a link. Our own mentions and links are the only markup let through.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"^<(@[UW][A-Z0-9]{2,}|!subteam\^S[A-Z0-9]{2,}|#C[A-Z0-9]{2,})>$")
FENCE = "```"


def esc(text: object) -> str:
    """Text from data or people, shown as written."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_actor(actor: str | None) -> str:
    """An actor: a Slack mention we made from a click (`<@U123>`) stays a mention; anything else is text."""
    if actor is None:
        return ""
    return actor if _MENTION.match(actor) else esc(actor)


def code_cell(text: object) -> str:
    """A cell inside a code block: escaped, and no backtick run can close the block early."""
    return esc(text).replace("`", "\u02cb").replace("\n", " ")


def code_block(body: str) -> str:
    return f"{FENCE}{body}{FENCE}"


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut; an open code block is closed, an entity kept whole."""
    if len(text) <= limit:
        return text
    room = limit - 1 - len(FENCE)
    head = text[:room]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]  # never leave half of "&lt;"
    if head.count(FENCE) % 2 == 1:
        return head + "…" + FENCE
    return head + "…"


_MENTIONS = re.compile(r"(<@[UW][A-Z0-9]{2,}>|<!subteam\^S[A-Z0-9]{2,}>)")


def esc_text(text: str) -> str:
    """A sentence of ours that quotes data: everything escaped but the Slack mentions we put in it."""
    return "".join(part if _MENTIONS.fullmatch(part) else esc(part) for part in _MENTIONS.split(text))
