"""A reconciliation's failing payments reach the people: Slack, the incident API, the board and page.

The reconcile probe reads a SQLite finance database with 25 failing payments and keeps 20 of
them; the alert's evidence carries them through the real outbox worker to the local Slack Web API
server, the HTTP app and a real Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.notify.slack import SlackNotifier
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.browser import chromium, serious_violations
from tests.support.demo_stack import free_port, serve
from tests.support.reconcile_stack import (
    EVIDENCE_LIMIT,
    FAILING,
    FIRST_KEYS,
    HOSTILE_KEY,
    finance_db,
    write_settlement_model,
)
from tests.support.slack_server import SlackServer

SLACK_ROWS = 10  # the first keys a Slack message lists


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts"}) as server:
        yield server


@pytest.fixture
def runtime(tmp_path: Path, clock: FakeClock, slack: SlackServer) -> Iterator[Runtime]:
    model = write_settlement_model(tmp_path / "m", finance_db(tmp_path / "finance.db"))
    runtime = Runtime.build(
        Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
        model,
        clock=clock,
        registry=CollectorRegistry(),
        notifier=SlackNotifier.from_token(slack.token, slack.base_url, timeout=5),
        environ={},
        pacing_clock=clock.monotonic,
    )
    result = runtime.runner.run("settlement", "mismatched")
    assert result.error is None
    clock.advance(30)
    runtime.evaluate_and_deliver()
    yield runtime
    runtime.stop()


def evidence_sections(slack: SlackServer) -> list[str]:
    [message] = slack.slack.top_level("shop-alerts")
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section" and "text" in b]
    return [t for t in texts if t.startswith("*Evidence")]


def test_slack_lists_the_first_failing_payments_escaped_and_says_how_many_more(
    runtime: Runtime, slack: SlackServer
) -> None:
    # Three series fire (EUR amounts, GBP and CHF missing); their shared table is shown once.
    [section] = evidence_sections(slack)
    assert len(section) <= 3000
    assert "&lt;!channel&gt;" in section and "<!channel>" not in section  # shown, nobody pinged
    for key in FIRST_KEYS[1:]:
        assert key in section
    assert "PAY-014" not in section
    assert "amount_mismatch" in section and "missing_in_target" in section
    assert "123.00" in section and "100.00" in section  # PAY-023 on both sides
    assert section.endswith(f"_{FAILING - SLACK_ROWS} more rows_")


def test_the_incident_api_shows_the_first_keys_and_how_many_more(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime, manage_runtime=False))
    [incident] = client.get("/api/v1/incidents").json()
    evidence = incident["alerts"][0]["evidence"]
    assert evidence["columns"] == ["payment_ref", "mismatch", "currency", "source amount", "target amount"]
    assert [row[0] for row in evidence["rows"]][:SLACK_ROWS] == FIRST_KEYS
    assert len(evidence["rows"]) == EVIDENCE_LIMIT
    assert evidence["more"] == FAILING - EVIDENCE_LIMIT
    assert evidence["rows"][0] == [HOSTILE_KEY, "missing_in_target", "GBP", "500.00", "missing"]


@pytest.mark.slow
def test_board_and_incident_page_show_the_failing_payments(runtime: Runtime) -> None:
    with serve(runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        card = page.locator("#flow-settlement .alert .evidence").first
        assert card.inner_text() == (
            f"payment_ref: {', '.join(FIRST_KEYS[:5])} and {FAILING - 5} more"
        )  # the hostile key is text on the page
        assert serious_violations(page) == []

        page.goto(f"{base}/incidents/1")
        tables = page.locator("section.evidence")
        assert tables.count() == 1  # three alerts, one table of keys
        cells = tables.locator("tr td:first-child").all_inner_texts()
        # Largest gap first: PAY-X (7 CHF booked, never settled) sits between PAY-007 and PAY-006.
        assert cells == [*FIRST_KEYS, *(f"PAY-{n:03d}" for n in range(14, 6, -1)), "PAY-X", "PAY-006"]
        assert tables.locator(".more").inner_text() == f"… and {FAILING - EVIDENCE_LIMIT} more rows"
        assert page.evaluate("document.querySelectorAll('a[href*=channel]').length") == 0
        assert serious_violations(page) == []
