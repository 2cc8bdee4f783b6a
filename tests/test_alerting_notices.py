"""The typed seam between incidents and channels: enums, IncidentView, versioned notices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from flowhealth.alerting.enums import AlertState, IncidentStatus, MemberStatus, NoticeKind, Outcome
from flowhealth.alerting.notices import (
    SCHEMA_VERSION,
    AckExpired,
    Acknowledged,
    Cleared,
    Escalated,
    IncidentView,
    Joined,
    Message,
    Note,
    Opened,
    Owner,
    Reopened,
    Resolved,
    ResolvedValue,
    SilenceEnded,
    SilenceInfo,
    SilenceStarted,
    UnknownVersion,
    read_message,
)
from flowhealth.clock import FakeClock
from flowhealth.store.tables import AlertState as AlertStateRow
from flowhealth.store.tables import Incident, OutboxMessage
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import write_alerting_model

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(T0))


def stored(rig: Rig) -> list[OutboxMessage]:
    with Session(rig.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def test_enum_values_are_the_strings_rows_already_hold(rig: Rig) -> None:
    assert [s.value for s in AlertState] == ["inactive", "pending", "firing"]
    assert [s.value for s in IncidentStatus] == ["open", "resolved"]
    assert [s.value for s in MemberStatus] == ["active", "held", "silenced", "suppressed", "resolved"]
    assert [k.value for k in NoticeKind] == ["open", "update", "post"]
    assert [o.value for o in Outcome] == ["delivered", "retry"]
    rig.observe("orders", "delay", 1800)
    rig.tick(400)
    with Session(rig.engine) as session:
        [incident] = session.exec(select(Incident)).all()
        [state] = session.exec(select(AlertStateRow)).all()
    assert incident.status == IncidentStatus.OPEN and state.state == AlertState.FIRING
    [row] = stored(rig)
    assert row.kind == NoticeKind.OPEN


def test_the_view_of_a_firing_incident_carries_what_every_channel_needs(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.tick(400)
    [row] = stored(rig)
    message = read_message(row.kind, row.payload, at=row.created_at)
    view = message.view
    assert isinstance(view, IncidentView)
    assert view.incident == 1 and view.status == IncidentStatus.OPEN and view.severity == "critical"
    assert view.owner == Owner(team="shop-team", name="shop-team", channel="#shop-alerts", oncall="@shop-oncall")
    assert view.escalation == Owner(team="leads", name="leads", channel="#leads", oncall="@leads")
    alert = view.primary
    assert alert is not None and alert.status == MemberStatus.ACTIVE and alert.unit == "seconds"
    assert (alert.value, alert.value_text, alert.comparison, alert.threshold_text) == (1800, "30m", ">", "15m")
    assert view.runbook is not None and view.runbook.url.startswith("http://fh.test/runbooks/")
    assert view.dashboard_url is not None and view.dashboard_url.startswith("http://grafana.test/d/")
    assert view.business_impact and view.state_word == "Firing"


def every_notice() -> list[Message]:
    silence = SilenceInfo(id=3, author="carol", until=T0 + timedelta(hours=1), reason="deploy", matchers={"flow": "x"})
    target = Owner(team="leads", name="Leads", channel="#leads", oncall="@leads")
    notices = [
        Opened(at=T0),
        Joined(at=T0, rule="r", severity="critical", note="silenced by carol"),
        Cleared(at=T0, rule="r", value=3.0),
        Escalated(at=T0, level=1, waited_seconds=1800, target=target),
        Acknowledged(at=T0, by="alice", until=T0 + timedelta(hours=4)),
        AckExpired(at=T0, by="alice", oncall="@shop-oncall"),
        SilenceStarted(at=T0, silence=silence),
        SilenceEnded(at=T0, silence=silence, by="bob"),
        Resolved(at=T0, after_seconds=660, values=[ResolvedValue(rule="r", value_text="10s")]),
        Reopened(at=T0),
        Note(at=T0, text="legacy"),
    ]
    return [Message(kind=NoticeKind.UPDATE, notices=[n]) for n in notices]


@pytest.mark.parametrize("message", every_notice(), ids=lambda m: m.notices[0].type)
def test_every_notice_survives_the_outbox_with_its_type_and_version(message: Message) -> None:
    raw = message.to_json()
    assert json.loads(raw)["version"] == SCHEMA_VERSION
    again = read_message("update", raw, at=T0)
    assert again == message and type(again.notices[0]) is type(message.notices[0])


def test_a_row_written_before_notices_existed_is_read_not_dropped(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.tick(400)
    [row] = stored(rig)
    view = json.loads(row.payload)["view"]
    # The shape older code stored: a view dict (isoformat times) and a pre-rendered line.
    view["opened_at"] = T0.isoformat()
    legacy = json.dumps({"view": view, "thread_line": ":eyes: Acknowledged by alice.", "text": None})
    message = read_message("update", legacy, at=T0)
    assert message.view is not None and message.view.incident == 1 and message.view.opened_at == T0
    assert message.notices == [Note(at=T0, text=":eyes: Acknowledged by alice.")]
    post = read_message("post", json.dumps({"view": None, "thread_line": None, "text": ":zzz: hi"}), at=T0)
    assert post.view is None and post.notices == [Note(at=T0, text=":zzz: hi")]
    opened = read_message("open", json.dumps({"view": view, "thread_line": None, "text": None}), at=T0)
    assert opened.notices == [Opened(at=T0)]


def test_a_newer_schema_waits_and_garbage_is_named() -> None:
    with pytest.raises(UnknownVersion, match="schema version 99"):
        read_message("update", json.dumps({"version": 99}), at=T0)
    with pytest.raises(ValueError, match="not JSON"):
        read_message("update", "{nope", at=T0)
    with pytest.raises(ValueError, match="not a valid message"):
        read_message(
            "update", json.dumps({"version": SCHEMA_VERSION, "kind": "update", "notices": [{"type": "x"}]}), at=T0
        )


def test_boards_read_every_open_incident_as_a_typed_view(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.observe("stock", "age", 3600)
    rig.tick(400)
    with Session(rig.engine) as session:
        views = rig.actions.incidents.open_views(session, rig.clock.now())
    assert [(v.incident, v.flow, v.owner.team) for v in views] == [(1, "orders", "shop-team"), (2, "stock", "erp-team")]
    assert all(isinstance(v, IncidentView) and v.primary is not None for v in views)
