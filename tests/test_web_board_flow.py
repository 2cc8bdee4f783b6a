"""The board with 24 h sparklines and a flow page over seeded history, in a real headless Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from flowhealth.model import Model
from flowhealth.store.db import transaction
from flowhealth.store.records import Intervention
from flowhealth.store.tables import AlertEvent, Sample
from tests.support.browser import artifacts_dir, chromium, serious_violations
from tests.support.demo_stack import DemoStack, build_demo_stack, free_port, serve

pytestmark = pytest.mark.slow
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


def _seed_day(stack: DemoStack) -> None:
    """24 h of export delay before the demo started: calm, one 2-hour spike that fired and resolved."""
    now = stack.clock.now()
    first = now - timedelta(hours=24)
    with transaction(stack.runtime.engine) as session:
        for minutes in range(0, 24 * 60 - 40, 10):
            at = first + timedelta(minutes=minutes)
            spike = timedelta(hours=10) <= at - first < timedelta(hours=12)
            session.add(
                Sample(
                    flow="order-export",
                    signal="export_delay",
                    value=1800.0 if spike else 0.55,
                    observed_at=at,
                    source="sql",
                )
            )
        for event, hours, value in (("firing", 10.25, 1800.0), ("resolved", 12, 0.55)):
            session.add(
                AlertEvent(
                    rule="order-export-delayed",
                    flow="order-export",
                    event=event,
                    at=first + timedelta(hours=hours),
                    value=value,
                )
            )
        session.add(
            Intervention(
                flow="order-export",
                reason="resent",
                record="SO-0",
                actor=HOSTILE,
                note=HOSTILE,
                performed_at=first + timedelta(hours=11),
            )
        )


@pytest.fixture(scope="module")
def stack(reference_model: Model, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    stack = build_demo_stack(reference_model, tmp_path_factory.mktemp("web"))
    _seed_day(stack)
    for _ in range(32):  # the ERP outage makes order-export-delayed fire (see test_hypercare_board)
        stack.tick(60)
    stack.break_things()
    stack.tick(60)
    yield stack
    stack.runtime.stop()


def test_board_shows_24h_sparklines_with_thresholds_and_firing_periods(stack: DemoStack) -> None:
    shots = artifacts_dir("board")
    with serve(stack.runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        orders = page.locator("#flow-order-export")
        assert orders.get_attribute("data-status") == "firing"
        delay = orders.locator("svg.spark[aria-label^='export_delay:']")
        label = delay.get_attribute("aria-label") or ""
        assert "export_delay: peak 30m" in label and "threshold above 15m" in label
        # The seeded spike and today's outage: two firing periods, drawn as shaded spans.
        assert delay.locator("rect.firing").count() == 2
        assert delay.locator("line.threshold").count() == 1
        assert delay.locator("polyline.line").count() >= 1
        text = orders.inner_text()
        assert "1 payload" in text and "1 payloads" not in text
        assert "incident #1" in orders.locator(".alert").first.inner_text()
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "board-firing.png"), full_page=True)


def test_flow_page_over_a_day_of_history(stack: DemoStack) -> None:
    shots = artifacts_dir("flow")
    with serve(stack.runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/flows/order-export")
        assert page.locator("#status").text_content() == "firing"
        delay = page.locator('section.signal[data-signal="export_delay"]')
        chart = delay.locator("svg.chart")
        assert chart.locator("rect.firing").count() == 2
        points = sum(len((p.get_attribute("points") or "").split()) for p in chart.locator("polyline.line").all())
        assert points >= 90  # a point per 15 minutes over the day (96 bins), not a dot
        assert "peak 30m" in delay.inner_text()
        # Incidents, interventions, probes with their last outcome, and owners per failure mode.
        assert page.locator('#incidents + table a[href="/incidents/1"]').count() == 1
        interventions = page.locator("#interventions + table").inner_text()
        assert "SO-1" in interventions and "SO-0" in interventions and HOSTILE in interventions  # shown as text
        assert page.locator("img").count() == 0 and page.title() != "pwned"
        probe = page.locator('tr[data-probe="export_delay"]').inner_text()
        assert "success" in probe
        owners = page.locator("#owners + table").inner_text()
        assert "failure mode erp_unavailable" in owners and "ERP Basis" in owners
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "flow-24h.png"), full_page=True)

        # A chosen range: the last 6 h no longer reach the seeded spike.
        page.goto(f"{base}/flows/order-export?range=6h")
        assert page.locator('section.signal[data-signal="export_delay"] rect.firing').count() == 1
        assert page.request.get(f"{base}/flows/nope").status == 404
        assert page.request.get(f"{base}/flows/order-export?range=99d").status == 422
        assert page.request.get(f"{base}/flows/order-export?range=soon").status == 422
        # The review of the last day, linked from every page, as a page of this service.
        page.goto(f"{base}/review?since=24h")
        assert page.locator("#incidents tr[data-incident]").count() == 1
        assert page.locator("svg[aria-label^='incidents per hour:']").count() == 1  # a point per hour for a day


def test_runbook_is_html_with_the_flow_live_status_on_top(stack: DemoStack) -> None:
    with serve(stack.runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/runbooks/order-export-delay")
        live = page.locator("#live")
        assert "order-export" in live.inner_text() and "FIRING" in live.inner_text().upper()
        assert page.locator("article.runbook h2", has_text="Recovery steps").count() == 1
        assert serious_violations(page) == []
        markdown = page.request.get(f"{base}/runbooks/order-export-delay?format=markdown")
        assert markdown.headers["content-type"].startswith("text/markdown") and "## Recovery steps" in markdown.text()
        page.screenshot(path=str(artifacts_dir("runbook") / "runbook.png"), full_page=True)
        assert json.loads(page.request.get(f"{base}/runbooks/nope").text()) == {"detail": "no runbook 'nope'"}
