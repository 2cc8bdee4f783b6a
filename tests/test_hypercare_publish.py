"""The review as files, in a real browser, posted to Slack with the page attached, and on a schedule."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.clock import FakeClock
from flowhealth.errors import ConfigError
from flowhealth.hypercare.schedule import review_job, review_trigger
from flowhealth.model import Model
from flowhealth.settings import Settings
from flowhealth.store.db import init_schema, make_engine
from tests.support.browser import chromium
from tests.support.hypercare_history import END, seed
from tests.support.models import reference_without_stock_reconciliation
from tests.support.slack_server import SlackServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = make_engine(url)
    init_schema(engine)
    seed(engine)
    engine.dispose()
    return url


def test_review_writes_markdown_and_a_self_contained_page(
    state_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", state_url)
    out = tmp_path / "out"
    model_dir = reference_without_stock_reconciliation(tmp_path / "m")  # one open ownership question
    args = ["review", "-m", str(model_dir), "--since", "7d", "--until", END.isoformat(), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    html = (out / "hypercare-review-2025-03-10.html").read_text()
    assert (out / "hypercare-review-2025-03-10.md").read_text().startswith("# Hypercare review, 2025-03-03")
    # Self-contained: no scripts, no stylesheets or images fetched from anywhere.
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    assert "<link" not in html

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out / "hypercare-review-2025-03-10.html").as_uri())
        assert requests == [(out / "hypercare-review-2025-03-10.html").as_uri()]
        rows = page.locator("#changes tr").all_inner_texts()
        assert "Incidents\t5\t2\t▲ worse" in rows
        assert "Manual interventions\t5\t7\t▼ better" in rows
        orders = page.locator("#flows tr", has_text="order-export").inner_text()
        assert "3 ▲ worse" in orders and "13m / 20m" in orders and "50m / 2h" in orders
        assert "amount 250.75 EUR, 30.00 USD." in page.locator("#mismatches").inner_text()
        # Charts are drawn: a line per flow plus the overall ones (runs broken only by gaps), bars per reason and person.
        assert page.locator("svg polyline.line").count() == 2 + len(page.locator("#flows tr").all()) - 1
        assert page.locator("svg.bars rect").count() == 2 + 3
        assert page.locator("svg[aria-label='interventions by reason'] text").first.text_content() == "resent"
        box = page.locator("svg[aria-label^='incidents per day:']").bounding_box()
        assert box is not None and box["width"] > 100
        assert page.locator("#questions tr", has_text="inventory-sync").count() == 1  # its stock reconciliation
        shots = Path(os.environ.get("FLOWHEALTH_SCREENSHOT_DIR", tmp_path))
        page.screenshot(path=str(shots / "review.png"), full_page=True)


def test_review_posted_to_slack_with_the_page_attached(
    state_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = reference_without_stock_reconciliation(tmp_path / "m")  # one open ownership question
    with SlackServer({"C0HYPER": "integration-hypercare"}) as server:
        monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", state_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", server.token)
        monkeypatch.setenv("FLOWHEALTH_SLACK_BASE_URL", server.base_url)
        args = ["review", "-m", str(model_dir), "--until", END.isoformat(), "--post", "#integration-hypercare"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        [message] = server.slack.top_level("#integration-hypercare")
        assert message.text.startswith("*Hypercare review* 2025-03-03 00:00 to 2025-03-10 00:00 UTC")
        assert "- Incidents: 5 (before: 2) ▲ worse" in message.text
        assert "- Open ownership questions on: " in message.text
        [file_id] = message.files
        uploaded = server.slack.files[file_id]
        assert uploaded.filename == "hypercare-review-2025-03-10.html"
        assert uploaded.content.startswith(b"<!doctype html>")
        assert b"Hypercare review" in uploaded.content
        assert f"posted to #integration-hypercare (file {file_id})" in result.output


def test_post_without_token_fails_clearly(state_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", state_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["review", "-m", str(REPO), "--post", "#x"])
    assert result.exit_code == 1
    assert "--post needs SLACK_BOT_TOKEN" in result.output


def test_scheduled_weekly_review(reference_model: Model, state_url: str) -> None:
    trigger = review_trigger("0 8 * * mon")
    assert str(trigger) == "cron[month='*', day='*', day_of_week='mon', hour='8', minute='0']"
    with pytest.raises(ConfigError, match="not a crontab line"):
        review_trigger("every monday")
    with SlackServer({"C0HYPER": "integration-hypercare"}) as server:
        settings = Settings(
            database_url=state_url,
            review_channel="#integration-hypercare",
            SLACK_BOT_TOKEN=server.token,
            FLOWHEALTH_SLACK_BASE_URL=server.base_url,
        )
        engine = make_engine(state_url)
        job = review_job(settings, reference_model, engine, FakeClock(END))
        file_id = job()
        [message] = server.slack.top_level("#integration-hypercare")
        assert message.files == [file_id]
        assert "- Manual interventions: 5 (before: 7) ▼ better" in message.text
        engine.dispose()
