"""An incident's page with its whole timeline, and silences made from the page, in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from flowhealth.clock import FakeClock
from flowhealth.model import load_model
from flowhealth.notify.console import ConsoleNotifier
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from tests.support.alerting_model import write_alerting_model
from tests.support.browser import artifacts_dir, chromium, serious_violations
from tests.support.demo_stack import free_port, serve

pytestmark = pytest.mark.slow
TOKEN = "web-test-token"
HOSTILE = "<b>bold</b> & <script>document.title='pwned'</script>"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    model = write_alerting_model(tmp_path / "model")
    runtime = Runtime.build(
        Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=TOKEN),  # type: ignore[arg-type]
        model,
        clock=FakeClock(),
        registry=CollectorRegistry(),
        notifier=ConsoleNotifier(write=lambda _text: None),
        environ={},
    )
    yield runtime
    runtime.stop()


def _observe(runtime: Runtime, signal: str, value: float) -> None:
    with transaction(runtime.engine) as session:
        record_readings(session, "orders", signal, [Reading(value)], runtime.clock.now(), "push")


def _minutes(runtime: Runtime, minutes: int, **values: float) -> None:
    for _ in range(minutes):
        runtime.clock.advance(60)  # type: ignore[attr-defined]
        for signal, value in values.items():
            _observe(runtime, signal, value)
        runtime.evaluator.evaluate()


def test_incident_page_shows_the_whole_timeline(runtime: Runtime) -> None:
    # Fire: the oldest order waits 20 min (over 15m); nobody acks for 30 min, so it escalates to the leads.
    _minutes(runtime, 40, delay=1200, depth=10)
    runtime.actions.ack("1", "alice", timedelta(hours=4))
    # Join: the queue backs up too, in the same flow and team.
    _minutes(runtime, 3, delay=1500, depth=550)
    runtime.actions.silence_incident("1", "bob", runtime.clock.now() + timedelta(hours=1), HOSTILE)
    # Resolve: both clear.
    _minutes(runtime, 3, delay=30, depth=5)

    shots = artifacts_dir("incident")
    with serve(runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/incidents/1")
        assert page.locator("#status").text_content() == "resolved"
        steps = [li.get_attribute("data-step") for li in page.locator("#timeline li").all()]
        order = [
            "fired",
            "opened",
            "notified",
            "escalated",
            "acked",
            "joined",
            "silenced",
            "alert resolved",
            "resolved",
        ]
        assert set(order) <= set(steps), steps
        firsts = [steps.index(step) for step in order]
        assert firsts == sorted(firsts), steps
        timeline = page.locator("#timeline").inner_text()
        assert "Acknowledged by alice" in timeline
        assert "Escalated to leads" in timeline
        assert "orders-late fired: 20m" in timeline
        assert "orders-backlog joined (also firing): 550 messages" in timeline
        assert "orders-late cleared: 30s" in timeline
        assert HOSTILE in timeline and page.title() != "pwned"  # a reason holding HTML shows as text
        assert page.locator("#timeline b").count() == 0
        assert page.locator("div.runbook h2", has_text="Recovery steps").count() == 1  # the runbook, inline
        members = page.locator("#members").inner_text()
        assert "orders-late" in members and "orders-backlog" in members
        assert "cleared at" in page.locator("main").inner_text()  # evidence at resolve: the values it cleared with
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "incident-timeline.png"), full_page=True)
        assert page.request.get(f"{base}/incidents/999").status == 404
        assert page.request.get(f"{base}/incidents/0").status == 422


def test_create_and_expire_a_silence_from_the_page(runtime: Runtime) -> None:
    _minutes(runtime, 20, delay=1200, depth=10)  # orders-late fires
    shots = artifacts_dir("silences")
    with serve(runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/silences")
        page.select_option("#m-flow", "orders")
        page.wait_for_selector("#preview li.matched")
        assert "orders-late (orders) firing" in page.locator("#preview").inner_text()
        page.fill("#author", "carol")
        page.fill("#reason", "ERP cutover <i>tonight</i>")
        page.fill("#duration", "2h")

        # Without the token the API refuses, and the page says why.
        page.click("#create")
        page.wait_for_selector("#message:has-text('Not created')")
        page.fill("#api-token", TOKEN)
        page.dispatch_event("#api-token", "change")
        page.click("#create")
        page.wait_for_selector('tr[data-silence="1"]')
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "silence-created.png"), full_page=True)

        api = httpx.get(f"{base}/api/v1/silences", timeout=10).json()
        assert [(s["id"], s["matchers"], s["author"], s["reason"]) for s in api] == [
            (1, {"flow": "orders"}, "carol", "ERP cutover <i>tonight</i>")
        ]
        assert page.locator('tr[data-silence="1"] i').count() == 0  # shown as text

        # The board shows the flow's silence.
        board = browser.new_page(viewport={"width": 1280, "height": 900})
        board.goto(f"{base}/")
        assert "Silenced by carol" in board.locator("#flow-orders .silence").inner_text()

        page.click('button.expire[data-id="1"]')
        page.wait_for_selector('tr[data-silence="1"] td:has-text("expired")')
        assert httpx.get(f"{base}/api/v1/silences", timeout=10).json() == []


def test_board_token_keeps_the_pages_private(tmp_path: Path) -> None:
    model = write_alerting_model(tmp_path / "model")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", board_token="b0ard", api_token=TOKEN)  # type: ignore[arg-type]
    runtime = Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})
    with serve(runtime, free_port()) as base, chromium() as browser:
        assert httpx.get(f"{base}/", timeout=10).status_code == 401
        assert httpx.get(f"{base}/api/v1/board", timeout=10).status_code == 401
        assert (
            httpx.get(f"{base}/api/v1/board", headers={"Authorization": "Bearer b0ard"}, timeout=10).status_code == 200
        )
        page = browser.new_page()
        page.goto(f"{base}/flows/orders")
        assert page.locator("#token").count() == 1
        page.fill("#token", "wrong")
        page.click("button[type=submit]")
        assert "does not open" in page.locator("main").inner_text()
        page.fill("#token", "b0ard")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/flows/orders")
        assert page.locator("h1").inner_text().startswith("orders")
        # Never a redirect to another site.
        answer = httpx.post(f"{base}/login", content="token=b0ard&next=//evil.test/", timeout=10)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
    runtime.stop()


def test_board_since_of_a_refired_alert_and_labels_holding_html(tmp_path: Path) -> None:
    root = tmp_path / "model"
    write_alerting_model(root)
    rules = root / "alert_rules" / "rules.yaml"
    rules.write_text(rules.read_text().replace("    above: 15m\n", "    above: 15m\n    for: 5m\n", 1))
    runtime = Runtime.build(
        Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
        load_model(root),
        clock=FakeClock(),
        registry=CollectorRegistry(),
        notifier=ConsoleNotifier(write=lambda _text: None),
        environ={},
    )
    _minutes(runtime, 10, delay=1200)  # pending, then firing
    _minutes(runtime, 30, delay=0)  # resolved
    _minutes(runtime, 2, delay=1200)  # pending again, two minutes now
    with transaction(runtime.engine) as session:
        labels = {"reason": '<img src=x onerror="document.title=1">'}
        record_readings(session, "orders", "rejected", [Reading(1, labels)], runtime.clock.now(), "push")
    with serve(runtime, free_port()) as base, chromium() as browser:
        board = httpx.get(f"{base}/api/v1/board", timeout=10).json()
        orders = next(f for f in board["flows"] if f["flow"] == "orders")
        [alert] = orders["alerts"]
        # Pending again for a minute; not counted from its earlier firing, 37 minutes ago.
        assert (alert["rule"], alert["state"], alert["since"]) == ("orders-late", "pending", "1m")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        flow = page.locator("#flow-orders")
        assert labels["reason"] in flow.inner_text() and "1 payload" in flow.inner_text()
        assert flow.locator("img").count() == 0 and page.title() != "1"
    runtime.stop()
