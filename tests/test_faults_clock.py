"""The clock steps (NTP) and daylight saving shifts a maintenance window: no crash, no storm, no gap."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowhealth.clock import FakeClock
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import write_alerting_model

MONDAY_10_BERLIN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def escalations(rig: Rig) -> int:
    return sum("escalating" in (m.get("thread_line") or "") for m in rig.messages())


def rig_at(tmp_path: Path, moment: datetime) -> Rig:
    return make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(moment))


def test_a_step_forward_by_a_day_escalates_once_not_once_per_missed_interval(tmp_path: Path) -> None:
    rig = rig_at(tmp_path, MONDAY_10_BERLIN)
    rig.observe("erp-link", "heartbeat", 600)
    assert rig.tick() == ["erp-down:firing"]
    rig.clock.advance(timedelta(days=1))  # 96 escalation intervals of 15 minutes pass at once
    rig.observe("erp-link", "heartbeat", 600)
    rig.tick()
    rig.tick()
    assert escalations(rig) == 1
    [incident] = rig.incidents()
    assert incident.status == "open" and incident.escalations == 1


def test_a_step_backward_keeps_alerts_and_never_shows_negative_durations(tmp_path: Path) -> None:
    rig = rig_at(tmp_path, MONDAY_10_BERLIN)
    rig.observe("orders", "delay", 1800)
    assert rig.tick() == ["orders-late:firing"]
    sent = len(rig.messages())
    rig.clock.advance(timedelta(hours=-2))  # the clock was two hours fast; NTP corrects it
    rig.observe("orders", "delay", 1900)
    for _ in range(5):
        assert rig.tick() == [], "a step backward neither resolves nor refires"
    assert len(rig.messages()) == sent, "nothing new to tell anyone"
    assert escalations(rig) == 0
    listed = json.dumps(rig.actions.list_incidents(include_resolved=True), default=str)
    payloads = json.dumps(rig.messages())
    for text in (listed, payloads):
        assert not re.search(r'"[a-z_]*duration[a-z_]*": "-', text), "a negative duration is shown"
    rig.observe("orders", "delay", 20)
    assert rig.tick() == ["orders-late:resolved"]
    [incident] = rig.incidents()
    assert incident.status == "resolved"


def night_of(rig: Rig, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Tick every five minutes with stock stale; the number of queued messages at each moment."""
    seen: list[tuple[datetime, int]] = []
    while rig.clock.now() < end:
        rig.observe("stock", "age", 3600)
        rig.tick(300)
        seen.append((rig.clock.now(), len(rig.messages())))
    assert rig.clock.now() >= end and start < end
    return seen


def at(seen: list[tuple[datetime, int]], moment: datetime) -> int:
    return next(n for when, n in seen if when >= moment)


def test_maintenance_window_holds_across_the_spring_forward_night(tmp_path: Path) -> None:
    # 2026-03-29: Berlin skips 02:00-03:00 local, so the 02:00-04:00 window is one real hour, 01:00-02:00 UTC.
    # erp-team escalates every 15 minutes; the window pauses that, then it resumes.
    rig = rig_at(tmp_path, datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    seen = night_of(rig, datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 3, 0, tzinfo=UTC))
    held = [
        n
        for when, n in seen
        if datetime(2026, 3, 29, 1, 5, tzinfo=UTC) <= when <= datetime(2026, 3, 29, 1, 55, tzinfo=UTC)
    ]
    assert len(held) == 11 and len(set(held)) == 1, "nothing is sent while the window holds"
    assert at(seen, datetime(2026, 3, 29, 2, 5, tzinfo=UTC)) > held[0], "escalation resumes when the window ends"
    assert [m["kind"] for m in rig.messages()].count("open") == 1


def test_maintenance_window_holds_a_new_alert_across_the_fall_back_night_and_releases_it_once(tmp_path: Path) -> None:
    # 2026-10-25: Berlin repeats 02:00-03:00 local, so 02:00 CEST-04:00 CET is three real hours, 00:00-03:00 UTC.
    rig = rig_at(tmp_path, datetime(2026, 10, 25, 0, 10, tzinfo=UTC))
    seen = night_of(rig, datetime(2026, 10, 25, 0, 10, tzinfo=UTC), datetime(2026, 10, 25, 4, 0, tzinfo=UTC))
    held = [n for when, n in seen if when < datetime(2026, 10, 25, 3, 0, tzinfo=UTC)]
    assert set(held) == {0}, "held through both passes of 02:00-03:00 local time"
    assert at(seen, datetime(2026, 10, 25, 3, 0, tzinfo=UTC)) >= 1, "sent when the window ends"
    assert [m["kind"] for m in rig.messages()].count("open") == 1, "and sent once"
    [incident] = rig.incidents()
    assert incident.notified_at is not None and incident.notified_at >= datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
