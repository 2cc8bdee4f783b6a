"""`flowhealth evidence`: the reference deployment's packs, every section, alert examples exactly as
the Slack and console renderers produce them, the page in real Chromium."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.alerting.enums import MemberStatus
from flowhealth.alerting.view import Member, incident_view
from flowhealth.cli.main import app
from flowhealth.evidence_pack.alerts import example_labels
from flowhealth.evidence_pack.html import render_html
from flowhealth.evidence_pack.markdown import render_markdown
from flowhealth.evidence_pack.pack import SECTIONS, build_pack
from flowhealth.links import Links
from flowhealth.model import Model
from flowhealth.notify.blocks import incident_blocks
from flowhealth.notify.console import render_incident
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.tables import AlertState, Incident
from flowhealth.store.types import labels_key
from tests.support.browser import chromium

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
LINKS = Links("https://flowhealth.example.com", "https://grafana.example.com")


def expected_blocks_and_console(model: Model, rule_id: str, number: int) -> tuple[list[dict[str, object]], str]:
    """The first message of an incident of this rule, built here and rendered by the notifiers."""
    rule = model.rules[rule_id]
    owner = model.rule_owner(rule_id)
    direction, threshold = model.rule_threshold(rule_id)
    value = threshold / 2 if direction == "below" else (threshold * 2 if threshold > 0 else threshold + 3)
    since = NOW - rule.for_ - timedelta(minutes=5)
    labels = example_labels(model, rule.flow, rule.signal, (rule.summary, rule.business_impact))
    state = AlertState(
        rule=rule_id,
        labels=labels_key(labels) if labels else "{}",
        owner=owner,
        state="firing",
        last_value=value,
        firing_since=since,
        pending_since=since,
        updated_at=NOW,
    )
    incident = Incident(
        id=number, team=owner, group_key="g", status="open", severity=rule.severity, opened_at=since, updated_at=NOW
    )
    view = incident_view(model, LINKS, incident, [Member(state, MemberStatus.ACTIVE)], [], NOW)
    return incident_blocks(view), render_incident(view)


@pytest.fixture
def engine(tmp_path: Path) -> object:
    eng = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(eng)
    return eng


def code_blocks(markdown: str, heading: str) -> list[str]:
    """The fenced blocks under one ### heading."""
    section = markdown.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return re.findall(r"```[a-z]*\n(.*?)\n```", section, flags=re.S)


def test_every_section_and_alert_examples_equal_to_the_renderers(reference_model: Model, engine: object) -> None:
    pack = build_pack(reference_model, engine, LINKS, "order-export", NOW)  # type: ignore[arg-type]
    markdown = render_markdown(pack)
    headings = re.findall(r"^## (.+)$", markdown, flags=re.M)
    assert headings == list(SECTIONS)
    rules = reference_model.rules_of("order-export")
    assert [a.rule for a in pack.alerts] == rules
    for number, rule_id in enumerate(rules, start=1):
        text, blocks, console = code_blocks(markdown, rule_id)
        expected_blocks, expected_console = expected_blocks_and_console(reference_model, rule_id, number)
        if rule_id == "order-contract-violations":
            # The contract rule's example carries the example payload, redacted, as evidence.
            assert "[redacted]" in blocks and "erp-sales-order v2.1.0" in blocks
            continue
        assert json.loads(blocks) == expected_blocks, rule_id
        assert console == expected_console, rule_id
        assert text.startswith("[FIRING] ")
    assert "| erp | ERP (orders, stock, finance ledger) | erp-basis | external_ref |" in markdown
    assert "6. Resend only after the fix" in markdown  # the replay step, from its runbook
    assert "| replay |" not in markdown  # failure modes, not made-up ones
    assert "| erp_unavailable | erp-basis | Paid orders are not picked or shipped" in markdown
    assert "erp-weekly-maintenance" in markdown and "600 requests per 1m" in markdown
    assert "Verdict: **ready**" in markdown


def test_the_cli_writes_every_critical_flow_and_the_page_reads_well_in_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    out = tmp_path / "packs"
    result = CliRunner().invoke(app, ["evidence", "--all", "-m", str(REPO), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert [w["flow"] for w in written] == ["erp-connectivity", "inventory-sync", "order-export", "payment-settlement"]
    page = out / "evidence-order-export.html"
    markdown = (out / "evidence-order-export.md").read_text()
    console = code_blocks(markdown, "order-export-delayed")[2]
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(page.as_uri())
        assert tab.title() == "Evidence pack: order-export"
        assert tab.locator("h2").all_inner_texts() == list(SECTIONS)
        shown = [text.removesuffix("\n") for text in tab.locator("pre").all_inner_texts()]
        assert console in shown  # the console example, character for character
        assert tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert tab.locator("table").count() >= 6


def test_names_and_payloads_are_text_not_markup(reference_model: Model, engine: object) -> None:
    pack = build_pack(reference_model, engine, LINKS, "order-export", NOW)  # type: ignore[arg-type]
    pack.description = "<script>alert(1)</script> orders"
    page = render_html(pack)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; orders" in page


def test_cli_errors_are_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    runner = CliRunner()
    unknown = runner.invoke(app, ["evidence", "orders", "-m", str(REPO), "--out", str(tmp_path)])
    assert unknown.exit_code == 2
    assert "unknown flow 'orders'" in unknown.output
    neither = runner.invoke(app, ["evidence", "-m", str(REPO), "--out", str(tmp_path)])
    assert neither.exit_code == 2
    assert "name one FLOW or give --all" in neither.output


def test_a_pack_builds_for_every_flow_of_the_reference(reference_model: Model, engine: object) -> None:
    for flow in reference_model.flows:
        markdown = render_markdown(build_pack(reference_model, engine, LINKS, flow, NOW))  # type: ignore[arg-type]
        assert re.findall(r"^## (.+)$", markdown, flags=re.M) == list(SECTIONS), flow
