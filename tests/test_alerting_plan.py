"""The pure stages of the incident pipeline, without a database: classify, then plan typed notices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from flowhealth.alerting.classify import build_context, classify, members, placement
from flowhealth.alerting.enums import AlertState as State
from flowhealth.alerting.enums import IncidentStatus, MemberStatus, NoticeKind
from flowhealth.alerting.evaluator import Transition
from flowhealth.alerting.notices import AckExpired, Cleared, Escalated, Joined, Opened, Resolved
from flowhealth.alerting.plan import Planner
from flowhealth.links import Links
from flowhealth.model import Model
from flowhealth.store.tables import AlertState, Incident, Silence
from tests.support.alerting_model import write_alerting_model

MONDAY_10_BERLIN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SUNDAY_3_BERLIN = datetime(2026, 1, 4, 2, 0, tzinfo=UTC)  # inside the erp-sunday maintenance window


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return write_alerting_model(tmp_path_factory.mktemp("m"))


def firing(rule: str, owner: str, since: datetime, value: float = 1800.0, incident_id: int | None = 1) -> AlertState:
    return AlertState(
        rule=rule,
        state=State.FIRING,
        owner=owner,
        firing_since=since,
        last_value=value,
        updated_at=since,
        incident_id=incident_id,
    )


def incident(opened_at: datetime, **fields: object) -> Incident:
    return Incident(
        id=1,
        group_key="shop-team|flow=orders",
        team="shop-team",
        status=IncidentStatus.OPEN,
        severity="critical",
        opened_at=opened_at,
        updated_at=opened_at,
        **fields,
    )


def test_classify_holds_silences_and_suppresses_without_a_database(model: Model) -> None:
    late = firing("orders-late", "shop-team", MONDAY_10_BERLIN)
    ctx = build_context(model, [late], [], MONDAY_10_BERLIN)
    assert classify(model, late, ctx).status == MemberStatus.ACTIVE

    held = build_context(model, [late], [], SUNDAY_3_BERLIN)
    assert classify(model, late, held).note == "maintenance window erp-sunday"

    silence = Silence(
        id=4,
        matchers=json.dumps({"flow": "orders"}),
        starts_at=MONDAY_10_BERLIN,
        ends_at=MONDAY_10_BERLIN + timedelta(hours=1),
        author="carol",
        reason="deploy",
        created_at=MONDAY_10_BERLIN,
    )
    muted = build_context(model, [late], [silence], MONDAY_10_BERLIN)
    assert (classify(model, late, muted).status, classify(model, late, muted).silence) == (
        MemberStatus.SILENCED,
        silence,
    )

    down = firing("erp-down", "erp-team", MONDAY_10_BERLIN, value=600, incident_id=2)
    ctx = build_context(model, [late, down], [], MONDAY_10_BERLIN)
    result = classify(model, late, ctx)
    assert result.status == MemberStatus.SUPPRESSED and result.note == "erp is down (erp-down)"


def test_flood_control_places_the_sixth_new_incident_of_a_team_in_one_storm(model: Model) -> None:
    recent = [
        Incident(id=n, group_key=f"shop-team|rule=r{n}", team="shop-team", status="open", severity="warning",
                 opened_at=MONDAY_10_BERLIN, updated_at=MONDAY_10_BERLIN)
        for n in range(5)
    ]  # fmt: skip
    assert placement("shop-team|rule=new", "shop-team", recent[:4], MONDAY_10_BERLIN) == "shop-team|rule=new"
    assert placement("shop-team|rule=new", "shop-team", recent, MONDAY_10_BERLIN) == "shop-team|storm"
    assert placement("shop-team|rule=r1", "shop-team", recent, MONDAY_10_BERLIN) == "shop-team|rule=r1"


def test_plan_opens_then_escalates_to_the_target_when_nobody_acknowledges(model: Model) -> None:
    planner = Planner(model, Links("http://fh.test", "http://grafana.test"))
    late = firing("orders-late", "shop-team", MONDAY_10_BERLIN)
    current = incident(MONDAY_10_BERLIN)
    ctx = build_context(model, [late], [], MONDAY_10_BERLIN)

    opened = planner.cycle(current, members(model, current, ctx), [], {}, MONDAY_10_BERLIN)
    [message] = [o.message for o in opened.outgoing]
    assert message.kind == NoticeKind.OPEN and message.notices == [Opened(at=MONDAY_10_BERLIN)]
    assert message.view is not None and message.view.owner.oncall == "@shop-oncall"
    assert current.next_escalation_at == MONDAY_10_BERLIN + timedelta(minutes=30)

    quiet = MONDAY_10_BERLIN + timedelta(minutes=10)
    assert planner.cycle(current, members(model, current, ctx), [], {}, quiet).outgoing == []

    later = MONDAY_10_BERLIN + timedelta(minutes=31)
    plan = planner.cycle(current, members(model, current, build_context(model, [late], [], later)), [], {}, later)
    update, post = plan.outgoing
    [notice] = update.message.notices
    assert isinstance(notice, Escalated) and notice.level == 1 and notice.waited_seconds == 31 * 60
    assert notice.target is not None and notice.target.channel == "#leads"
    assert post.kind == NoticeKind.POST and post.channel == "#leads" and post.message.notices == [notice]
    assert [e.event for e in plan.events] == ["escalated"] and current.escalations == 1


def test_plan_reports_joins_clears_ack_expiry_and_resolution_as_notices(model: Model) -> None:
    planner = Planner(model, Links("http://fh.test", "http://grafana.test"))
    t = MONDAY_10_BERLIN + timedelta(minutes=5)
    late = firing("orders-late", "shop-team", MONDAY_10_BERLIN)
    backlog = firing("orders-backlog", "shop-team", t, value=300)
    current = incident(MONDAY_10_BERLIN, notified_at=MONDAY_10_BERLIN)
    ctx = build_context(model, [late, backlog], [], t)
    fired = {("orders-backlog", "{}"): Transition("orders-backlog", "{}", "firing", 300)}
    [update] = planner.cycle(current, members(model, current, ctx), [], fired, t).outgoing
    assert [type(n) for n in update.message.notices] == [Joined]
    current.acked_by, current.ack_expires_at = "alice", t
    [update] = planner.cycle(current, members(model, current, ctx), [], {}, t).outgoing
    assert [type(n) for n in update.message.notices] == [AckExpired]
    assert current.acked_by is None

    for state in (late, backlog):
        state.state, state.resolved_at, state.resolved_value = State.INACTIVE, t, 10.0
    cleared = {("orders-late", "{}"): Transition("orders-late", "{}", "resolved", 10.0)}
    ctx = build_context(model, [late, backlog], [], t)
    plan = planner.cycle(current, members(model, current, ctx), [], cleared, t)
    [notice] = plan.outgoing[0].message.notices
    assert isinstance(notice, Resolved) and notice.after_seconds == 300 and notice.by is None
    assert [v.rule for v in notice.values] == ["orders-late", "orders-backlog"]
    assert current.status == IncidentStatus.RESOLVED
    assert Cleared not in [type(n) for n in plan.outgoing[0].message.notices]  # resolved says it all
