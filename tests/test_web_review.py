"""The review a hypercare meeting runs on: known answers, people's actions, 1280 px, print and PDF, in Chromium."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.hypercare.report_html import render_html
from flowhealth.hypercare.report_md import render_markdown
from flowhealth.hypercare.review import Review, build_review
from flowhealth.hypercare.section import Section
from flowhealth.model import Model
from flowhealth.store.db import init_schema, make_engine
from tests.support.browser import artifacts_dir, chromium, serious_violations
from tests.support.hypercare_history import END, seed, seed_human_actions
from tests.support.services import need_tool

A4_WIDTH_PX = 703  # 210 mm less the 12 mm margins of @page, at 96 dpi


def _review(model: Model, engine: Engine) -> Review:
    seed(engine)
    seed_human_actions(engine)
    return build_review(model, engine, END, timedelta(days=7))


def test_people_acting_is_not_noise_and_peaks_count(reference_model: Model, state_engine: Engine) -> None:
    review = _review(reference_model, state_engine)
    o = review.overall
    assert (o.incidents, o.noisy_incidents) == (7, 1)  # the fixed and the silenced ones are not noise
    assert o.outcomes == {
        "still open": 2,
        "fixed by hand": 1,
        "silenced": 1,
        "resolved by a person": 1,
        "acknowledged, then cleared": 1,
        "cleared by itself": 1,
    }
    assert (o.ttr_median, o.ttr_worst) == (600.0, 7200.0)  # 5m, 8m, 10m, 50m, 2h
    assert (o.tta_median, o.interventions, o.silences) == (780.0, 6, 3)
    # Mismatches that happened and were cleared count at their peak; the end of the period shows what is open.
    assert o.mismatches == {"CHF": 3.0, "EUR": 5.0, "USD": 1.0}
    assert o.mismatches_open == {"EUR": 5.0, "USD": 1.0}
    changes = {c.name: (c.current, c.previous, c.direction) for c in review.changes()}
    assert changes["Settlement mismatches (peak)"] == (9.0, 0.0, "worse")
    assert changes["Silences"] == (3, 0, "more")  # neither better nor worse
    timeline = [e.text for e in review.timelines[8]]
    assert timeline == ["Incident opened", "Fixed by hand by fay: data_fix SO-9", "Resolved: every alert cleared"]


def test_markdown_and_slack_carry_the_incident_list(reference_model: Model, state_engine: Engine) -> None:
    review = _review(reference_model, state_engine)
    review.sections.append(
        Section("Mapping changes", ["when", "mapping"], [["Mon", "sku <v2>"]], "From the model's history.")
    )
    text = render_markdown(review)
    assert (
        "- **#8** critical order-export, opened Sat 08 06:00: never acknowledged; recovered after 10m; fixed by hand"
        in text
    )
    assert (
        "- **#9** critical inventory-sync, opened Sat 08 09:00: never acknowledged; recovered after 8m; silenced by erin"
        in text
    )
    assert "| Silences | 3 | 0 | ▲ more |" in text
    assert "## Mapping changes\n\nFrom the model's history.\n\n| when | mapping |" in text


def test_review_page_fits_1280_prints_on_a4_and_passes_axe(
    reference_model: Model, state_engine: Engine, tmp_path: Path
) -> None:
    review = _review(reference_model, state_engine)
    review.sections.append(Section("Mapping changes", ["when", "mapping"], [["Mon", "<b>sku</b> v2"]]))
    page_file = tmp_path / "review.html"
    page_file.write_text(render_html(review), encoding="utf-8")
    shots = artifacts_dir("review")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(page_file.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scroll
        # Every per-flow column is on screen, the last one (silences) too.
        last = page.locator("#flows tr").nth(1).locator("td").last.bounding_box()
        assert last is not None and last["x"] + last["width"] <= 1280
        # Real lines: a point per day of the week.
        overall = page.locator("svg[aria-label^='incidents per day']")
        assert overall.get_attribute("aria-label") == "incidents per day: 0, 1, 1, 1, 1, 3, 0"
        assert len((overall.locator("polyline.line").first.get_attribute("points") or "").split()) == 7
        rows = page.locator("#incidents tr[data-incident]")
        assert rows.count() == 7
        fixed = page.locator('#incidents tr[data-incident="8"]').inner_text()
        assert "fixed by hand" in fixed and "Fixed by hand by fay: data_fix SO-9" in fixed
        assert "silenced" in page.locator('#incidents tr[data-incident="9"]').inner_text()
        assert "▲ more" in page.locator("#changes tr", has_text="Silences").inner_text()
        assert "3 CHF" in page.locator("#mismatches").inner_text()
        assert page.locator("table.section b").count() == 0  # an extra section's cells are text
        assert "supplier feed <b>known</b> late" in page.locator("main").inner_text()
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "review-1280.png"), full_page=True)

        printed = browser.new_page(viewport={"width": A4_WIDTH_PX, "height": 1123})
        printed.goto(page_file.as_uri())
        printed.emulate_media(media="print")
        assert printed.evaluate("document.documentElement.scrollWidth") <= A4_WIDTH_PX
        printed.screenshot(path=str(shots / "review-print.png"), full_page=True)


def test_review_as_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_tool("chromium")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = make_engine(url)
    init_schema(engine)
    seed(engine)
    engine.dispose()
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", url)
    out = tmp_path / "out"
    args = ["review", "-m", ".", "--since", "7d", "--until", END.isoformat(), "--out", str(out), "--format", "pdf"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    pdf = (out / "hypercare-review-2025-03-10.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/MediaBox [0 0 594.9" in pdf  # A4: 595 x 842 points
    refused = CliRunner().invoke(app, ["review", "-m", ".", "--format", "pdf"])
    assert refused.exit_code == 2 and "give --out" in refused.output
