"""Owner routing, grouping, escalation, business hours, maintenance, dependencies, silences."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from flowhealth.alerting.actions import AlreadyDone
from flowhealth.clock import FakeClock
from flowhealth.store.samples import Reading
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import write_alerting_model

MONDAY_10_BERLIN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(MONDAY_10_BERLIN))


def kinds(rig: Rig) -> list[tuple[str, str]]:
    return [(m["kind"], m["channel"]) for m in rig.messages()]


def lines(rig: Rig) -> list[str]:
    return [m["thread_line"] for m in rig.messages() if m.get("thread_line")]


@pytest.mark.parametrize(
    ("rule", "team"),
    [
        ("order-export-delayed", "erp-basis"),  # failure mode erp_unavailable
        ("orders-rejected-by-erp", "erp-integration"),  # failure mode erp_rejection
        ("order-queue-backlog", "erp-integration"),  # no mode: the flow owner
        ("refunds-rejected", "finance-ops"),  # psp_rejection on a commerce-owned flow
        ("refunds-delayed", "commerce-platform"),
        ("settlement-mismatch", "finance-ops"),
        ("inventory-stale", "erp-basis"),
        ("erp-unreachable", "erp-basis"),
        ("probe-failing:order-export/export_delay", "erp-integration"),
    ],
)
def test_reference_routing_table(reference_model, rule: str, team: str) -> None:
    assert reference_model.rule_owner(rule) == team


def test_owner_override_beats_failure_mode_and_flow_owner(rig: Rig) -> None:
    assert rig.model.rule_owner("orders-rejected-finance") == "finance"
    assert rig.model.rule_owner("orders-rejected") == "erp-team"
    assert rig.model.rule_owner("orders-late") == "shop-team"
    rig.observe("orders", "rejected", 60)
    rig.tick()
    assert sorted(kinds(rig)) == [("open", "#erp-alerts"), ("open", "#finance-alerts")]


def test_alerts_of_one_flow_and_owner_are_one_incident(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.tick()
    rig.observe("orders", "depth", 500)
    rig.tick()
    assert kinds(rig) == [("open", "#shop-alerts"), ("update", "#shop-alerts")]
    assert lines(rig) == [":red_circle: Also firing: orders-backlog (warning)"]
    [incident] = rig.incidents()
    assert rig.messages()[-1]["view"]["alerts"][1]["rule"] == "orders-backlog"
    assert incident.severity == "critical"


def test_a_storm_of_500_alerts_is_one_message(rig: Rig) -> None:
    rig.observe_many("orders", "rejected", [Reading(10, {"reason": f"r{i:03d}"}) for i in range(500)])
    rig.tick()
    messages = rig.messages()
    assert [m["kind"] for m in messages] == ["open"]
    assert len(messages[0]["view"]["alerts"]) == 500
    rig.tick()
    assert len(rig.messages()) == 1  # values ticking along do not edit the message


def test_unacknowledged_incident_escalates_and_repeats_until_acked(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.tick()
    rig.tick(29 * 60)
    assert lines(rig) == []
    rig.tick(60)
    assert lines(rig) == [":rotating_light: Not acknowledged after 30m: escalating to @leads (#leads)."]
    [post] = [m for m in rig.messages() if m["kind"] == "post"]
    assert post["channel"] == "#leads" and "Oldest order waits" in post["text"] and "#shop-alerts" in post["text"]
    rig.tick(30 * 60)
    assert len([line for line in lines(rig) if "escalating" in line]) == 2
    rig.actions.ack("1", "alice", timedelta(hours=1))
    assert lines(rig)[-1] == ":eyes: Acknowledged by alice until 2026-01-05 11:00 UTC."
    rig.tick(50 * 60)
    assert len([line for line in lines(rig) if "escalating" in line]) == 2  # acked: quiet
    rig.tick(11 * 60)
    assert lines(rig)[-1] == ":hourglass: The acknowledgement by alice expired and this still holds. @shop-oncall"
    rig.tick(30 * 60)
    assert len([line for line in lines(rig) if "escalating" in line]) == 3


def test_non_critical_escalation_waits_for_business_hours(tmp_path: Path) -> None:
    friday_1750_berlin = datetime(2026, 1, 9, 16, 50, tzinfo=UTC)
    rig = make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(friday_1750_berlin))
    rig.observe("orders", "depth", 500)  # warning
    rig.observe("orders", "delay", 1800)  # critical, same incident until it resolves
    rig.tick()
    rig.observe("orders", "delay", 10)
    rig.tick()  # the critical alert resolved; the incident is a warning now
    rig.tick(45 * 60)  # 18:35 Friday: outside business hours
    assert not any("escalating" in line for line in lines(rig))
    rig.clock.set(datetime(2026, 1, 12, 7, 5, tzinfo=UTC))  # Monday 08:05 Berlin
    rig.tick(0)
    assert any("escalating to @leads" in line for line in lines(rig))


def test_critical_escalates_at_night(tmp_path: Path) -> None:
    rig = make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(datetime(2026, 1, 6, 1, 0, tzinfo=UTC)))
    rig.observe("orders", "delay", 1800)
    rig.tick()
    rig.tick(31 * 60)
    assert any("escalating to @leads" in line for line in lines(rig))


def test_maintenance_window_holds_alerts_and_sends_them_when_it_ends(tmp_path: Path) -> None:
    sunday_0250_berlin = datetime(2026, 1, 11, 1, 50, tzinfo=UTC)
    rig = make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(sunday_0250_berlin))
    rig.observe("stock", "age", 3600)
    assert rig.tick() == ["stock-stale:firing"]
    rig.tick(60 * 60)  # 03:51 Berlin: still in the window
    assert rig.messages() == []
    rig.tick(15 * 60)  # 04:06 Berlin: the window is over and stock is still stale
    assert kinds(rig) == [("open", "#erp-alerts")]


def test_alert_that_clears_inside_the_window_is_never_sent(tmp_path: Path) -> None:
    rig = make_rig(write_alerting_model(tmp_path / "m"), tmp_path, FakeClock(datetime(2026, 1, 11, 1, 50, tzinfo=UTC)))
    rig.observe("stock", "age", 3600)
    rig.tick()
    rig.observe("stock", "age", 60)
    rig.tick()
    rig.tick(90 * 60)
    assert rig.messages() == []
    [incident] = rig.incidents()
    assert incident.status == "resolved" and incident.notified_at is None


def test_system_down_suppresses_dependent_flows_under_its_incident(rig: Rig) -> None:
    rig.observe("erp-link", "heartbeat", 900)
    rig.observe("orders", "delay", 1800)
    rig.tick()
    assert kinds(rig) == [("open", "#erp-alerts")]
    view = rig.messages()[0]["view"]
    assert view["alerts"][0]["rule"] == "erp-down"
    assert [(s["rule"], s["flow"], s["owner"]) for s in view["suppressed"]] == [("orders-late", "orders", "shop-team")]
    rig.observe("settlement", "mismatches", 20)  # psp and shop only: not held by the ERP
    rig.tick()
    assert ("open", "#finance-alerts") in kinds(rig)
    rig.observe("erp-link", "heartbeat", 10)
    rig.tick()  # the ERP is back but orders are still late: now the shop team hears of it
    assert ("open", "#shop-alerts") in kinds(rig)


def test_silence_mutes_and_is_announced_at_start_and_end(rig: Rig) -> None:
    rig.actions.silence({"flow": "orders"}, rig.clock.now() + timedelta(hours=1), "bob", "ERP upgrade rehearsal")
    rig.observe("orders", "delay", 1800)
    rig.tick()
    notices = [m for m in rig.messages() if m["kind"] == "post"]
    assert [(m["channel"], m["text"]) for m in notices] == [
        ("#erp-alerts", ":zzz: Silence #1 by bob until 2026-01-05 10:00 UTC (flow=orders): ERP upgrade rehearsal"),
        ("#finance-alerts", ":zzz: Silence #1 by bob until 2026-01-05 10:00 UTC (flow=orders): ERP upgrade rehearsal"),
        ("#shop-alerts", ":zzz: Silence #1 by bob until 2026-01-05 10:00 UTC (flow=orders): ERP upgrade rehearsal"),
    ]
    assert not any(m["kind"] == "open" for m in rig.messages())
    rig.tick(61 * 60)
    assert ("open", "#shop-alerts") in kinds(rig)
    assert any(m["kind"] == "post" and m["text"].endswith("(flow=orders) has ended.") for m in rig.messages())


def test_silence_by_system_matches_flows_touching_it(rig: Rig) -> None:
    rig.actions.silence({"system": "erp"}, rig.clock.now() + timedelta(hours=1), "bob", "cutover")
    rig.observe("stock", "age", 3600)
    rig.observe("settlement", "mismatches", 20)
    rig.tick()
    assert [k for k in kinds(rig) if k[0] == "open"] == [("open", "#finance-alerts")]


def test_silencing_an_open_incident_edits_it_and_stops_escalation(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.tick()
    rig.actions.silence_incident("1", "carol", rig.clock.now() + timedelta(hours=2), "known, fix deploying")
    last = rig.messages()[-1]
    assert last["kind"] == "update" and last["view"]["silence"]["author"] == "carol"
    assert last["thread_line"] == ":zzz: Silenced by carol until 2026-01-05 11:00 UTC: known, fix deploying"
    rig.tick(45 * 60)
    assert not any("escalating" in line for line in lines(rig))


def test_no_data_alert_fires_after_the_signal_stops_and_clears_when_it_returns(rig: Rig) -> None:
    rig.observe("stock", "updates", 12)
    rig.tick()
    rig.tick(21 * 60)  # the value is older than 2 x expect_every: unknown from here
    assert rig.tick(14 * 60) == []
    assert rig.tick(2 * 60) == ["stock-no-updates:firing"]
    alert = rig.messages()[-1]["view"]["alerts"][0]
    assert alert["summary"].startswith("No data: stock/updates has not been measured since 2026-01-05 09:2")
    assert alert["value_text"] == "no data" and alert["owner"]["team"] == "erp-team"
    rig.observe("stock", "updates", 12)
    assert rig.tick() == ["stock-no-updates:resolved"]


def test_hysteresis_keeps_firing_until_the_recovery_threshold(rig: Rig) -> None:
    rig.observe("settlement", "mismatches", 12)
    assert rig.tick() == ["settlement-off:firing"]
    rig.observe("settlement", "mismatches", 7)
    assert rig.tick() == []
    rig.observe("settlement", "mismatches", 2)
    assert rig.tick() == ["settlement-off:resolved"]


def test_a_failing_probe_raises_its_own_alert_to_the_flow_owner(rig: Rig) -> None:
    rig.probe_failures("orders", "depth", 2)
    assert rig.tick() == []
    rig.probe_failures("orders", "depth", 3)
    assert rig.tick() == ["probe-failing:orders/depth:firing"]
    [message] = rig.messages()
    alert = message["view"]["alerts"][0]
    assert message["channel"] == "#shop-alerts"
    assert alert["summary"] == "flowhealth cannot measure orders/depth: its probe failed 3 times in a row"
    assert alert["runbook"]["url"] == "http://fh.test/runbooks/probe-failing"
    rig.probe_failures("orders", "depth", 0)
    assert rig.tick() == ["probe-failing:orders/depth:resolved"]


def test_manual_resolve_keeps_a_still_firing_alert_quiet_until_it_fires_again(rig: Rig) -> None:
    rig.observe("orders", "delay", 1800)
    rig.tick()
    rig.actions.resolve("orders-late", "dave")
    assert rig.messages()[-1]["thread_line"] == ":white_check_mark: Resolved by dave."
    assert rig.messages()[-1]["view"]["status"] == "resolved"
    count = len(rig.messages())
    rig.tick()
    rig.tick(40 * 60)
    assert len(rig.messages()) == count  # no new incident, no escalation
    rig.observe("orders", "delay", 10)
    rig.tick()
    rig.observe("orders", "delay", 1800)
    rig.tick()
    assert [i.status for i in rig.incidents()] == ["resolved", "open"]
    assert rig.messages()[-1]["kind"] == "open"


def test_restart_mid_incident_sends_nothing_twice(rig: Rig, tmp_path: Path, state_engine: Engine) -> None:
    first = make_rig(rig.model, tmp_path, rig.clock, state_engine)
    first.observe("orders", "delay", 1800)
    first.tick()
    second = make_rig(rig.model, tmp_path, rig.clock, state_engine)
    second.tick()
    second.tick(10 * 60)
    assert [m["kind"] for m in second.messages()] == ["open"]
    second.observe("orders", "delay", 10)
    second.tick()
    assert [m["kind"] for m in second.messages()] == ["open", "update"]
    assert second.messages()[-1]["thread_line"] == ":white_check_mark: Resolved after 11m: orders-late at 10s."


def test_many_flows_failing_at_once_become_a_handful_of_messages(tmp_path: Path) -> None:
    flows = "\n".join(
        f"""  f{i:03d}:
    description: Flow {i}.
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: api
    latency_class: same-day
    owner: shop-team
    signals:
      delay: {{kind: delay, description: Delay., probe: {{kind: push}}}}"""
        for i in range(60)
    )
    rules = "\n".join(
        f"""  r{i:03d}:
    flow: f{i:03d}
    signal: delay
    above: 60
    severity: warning
    summary: "Flow {i} is late"
    business_impact: Late.
    runbook: rb"""
        for i in range(60)
    )
    from flowhealth.model import load_model
    from tests.support.alerting_model import write_alerting_model

    root = tmp_path / "m"
    write_alerting_model(root)
    (root / "flows" / "many.yaml").write_text("flows:\n" + flows + "\n")
    (root / "alert_rules" / "many.yaml").write_text("rules:\n" + rules + "\n")
    rig = make_rig(load_model(root), tmp_path, FakeClock(MONDAY_10_BERLIN))
    for i in range(60):
        rig.observe(f"f{i:03d}", "delay", 600)
    rig.tick()
    opened = [m for m in rig.messages() if m["kind"] == "open"]
    assert len(opened) == 6  # five flows on their own, then one storm message for the rest
    storm = opened[-1]["view"]
    assert storm["title"] == "Alert storm: 55 alerts on 55 flows (f005, f006, f007 and 52 more), grouped in one message"
    rig.observe("f000", "delay", 10)
    rig.observe("f059", "delay", 10)
    rig.tick()
    assert len([m for m in rig.messages() if m["kind"] == "open"]) == 6


@pytest.mark.parametrize("action", ["ack", "resolve"])
def test_people_acting_at_once_on_one_incident_are_applied_once(
    rig: Rig, tmp_path: Path, state_engine: Engine, action: str
) -> None:
    """Eight clicks at the same moment: one is applied, seven are told it was already done."""
    shared = make_rig(rig.model, tmp_path, rig.clock, state_engine)
    shared.observe("orders", "delay", 1800)
    shared.tick()
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def click(person: str) -> None:
        start.wait()
        try:
            getattr(shared.actions, action)("1", person)
            outcomes.append("applied")
        except AlreadyDone:
            outcomes.append("already done")

    threads = [threading.Thread(target=click, args=(f"person-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["already done"] * 7 + ["applied"]
    told = "Acknowledged by" if action == "ack" else "Resolved by"
    lines = [m["thread_line"] for m in shared.messages() if told in (m["thread_line"] or "")]
    assert len(lines) == 1, lines  # one thread line in the channel, not one per click
