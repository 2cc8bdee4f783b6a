"""Every notice reads as one sentence in chat; posts and thread replies word the same notice differently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowhealth.alerting.notices import (
    AckExpired,
    Acknowledged,
    Cleared,
    Escalated,
    Joined,
    Message,
    NoticeKind,
    Opened,
    Owner,
    Resolved,
    ResolvedValue,
    SilenceEnded,
    SilenceInfo,
    SilenceStarted,
)
from flowhealth.notify.wording import message_text, thread_text

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEADS = Owner(team="leads", name="Leads", channel="#leads", oncall="@leads")
SILENCE = SilenceInfo(id=7, author="carol", until=T0 + timedelta(hours=2), reason="deploy", matchers={"flow": "orders"})


def test_thread_replies_say_what_happened_one_line_each() -> None:
    update = Message(
        kind=NoticeKind.UPDATE,
        notices=[
            Joined(at=T0, rule="orders-backlog", severity="warning", note="silenced by carol"),
            Cleared(at=T0, rule="orders-late", value=180, value_text="3m"),
            AckExpired(at=T0, by="alice", oncall="@shop-oncall"),
        ],
    )
    assert thread_text(update) == (
        ":red_circle: Also firing: orders-backlog (warning) — silenced by carol\n"
        ":white_check_mark: orders-late resolved at 3m\n"  # in the signal's unit, not "value 180."
        ":hourglass: The acknowledgement by alice expired and this still holds. @shop-oncall"
    )
    assert thread_text(Message(kind=NoticeKind.OPEN, notices=[Opened(at=T0)])) is None
    one = [
        (
            Acknowledged(at=T0, by="alice", until=T0 + timedelta(hours=4)),
            ":eyes: Acknowledged by alice until 2026-01-05 13:00 UTC.",
        ),
        (Resolved(at=T0, by="dave"), ":white_check_mark: Resolved by dave."),
        (
            Resolved(at=T0, after_seconds=660, values=[ResolvedValue(rule="orders-late", value_text="10s")]),
            ":white_check_mark: Resolved after 11m: orders-late at 10s.",
        ),
        (SilenceStarted(at=T0, silence=SILENCE), ":zzz: Silenced by carol until 2026-01-05 11:00 UTC: deploy"),
        (SilenceEnded(at=T0, silence=SILENCE, by="bob"), ":bell: Silence #7 ended by bob."),
        (
            Escalated(at=T0, level=1, waited_seconds=1800, target=LEADS),
            ":rotating_light: Not acknowledged after 30m: escalating to @leads (#leads).",
        ),
    ]
    for notice, text in one:
        assert thread_text(Message(kind=NoticeKind.UPDATE, notices=[notice])) == text


def test_posts_announce_silences_in_their_own_words() -> None:
    started = Message(kind=NoticeKind.POST, notices=[SilenceStarted(at=T0, silence=SILENCE)])
    assert message_text(started) == ":zzz: Silence #7 by carol until 2026-01-05 11:00 UTC (flow=orders): deploy"
    ended = Message(kind=NoticeKind.POST, notices=[SilenceEnded(at=T0, silence=SILENCE)])
    assert message_text(ended) == ":bell: Silence #7 (flow=orders) has ended."
