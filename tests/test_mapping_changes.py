"""Mapping changes: recorded when the model is loaded again (start-up, reload), found in git with
--since, and listed in the weekly review beside the incidents that followed them."""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.clock import FakeClock
from flowhealth.evidence_pack.markdown import render_markdown as render_pack
from flowhealth.evidence_pack.pack import build_pack
from flowhealth.hypercare.history import load_history
from flowhealth.hypercare.mapping_changes import review_changes
from flowhealth.hypercare.report_html import render_html
from flowhealth.hypercare.report_md import render_markdown
from flowhealth.hypercare.review import build_review
from flowhealth.links import Links
from flowhealth.model import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import make_engine
from tests.support.hypercare_history import END, START, seed
from tests.support.models import copy_reference, edit

REPO = Path(__file__).resolve().parent.parent
QUERY = "FROM shop_orders WHERE erp_accepted_at IS NULL AND status = 'paid'"


def copy_model(root: Path) -> Path:
    copy_reference(root)
    return root


def start(model_dir: Path, db: Path, clock: FakeClock) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{db}", model_dir=model_dir)
    return Runtime.build(settings, load_model(model_dir), clock=clock, registry=CollectorRegistry(), environ={})


def test_a_reload_records_the_change_and_the_review_lists_the_incidents_after_it(tmp_path: Path) -> None:
    model_dir, db = copy_model(tmp_path / "m"), tmp_path / "state.db"
    first = start(model_dir, db, FakeClock(START + timedelta(hours=6)))
    assert first.record_mapping_changes() == 0  # the first load is the baseline
    assert first.record_mapping_changes() == 0  # nothing changed since
    edit(model_dir / "flows/orders.yaml", "      version: 2.1.0", "      version: 2.2.0")
    edit(model_dir / "flows/orders.yaml", QUERY, QUERY.replace("'paid'", "'paid' AND total > 0"))
    second = start(model_dir, db, FakeClock(START + timedelta(days=2)))
    assert second.record_mapping_changes() == 2
    engine = make_engine(f"sqlite:///{db}")
    seed(engine)
    changes = review_changes(
        engine, END - timedelta(days=7), END, load_history(engine, second.model, START, END).incidents
    )
    listed = [(r.recorded.change.aspect.value, r.recorded.change.subject) for r in changes]
    assert listed == [("contract", "erp-sales-order"), ("query", "export_delay")]
    contract = changes[0]
    assert contract.recorded.change.before == "version 2.1.0"
    assert contract.recorded.change.after == "version 2.2.0"
    assert contract.recorded.changed_by == getpass.getuser()  # not a git repository: who runs it
    assert contract.recorded.changed_at == START + timedelta(days=2)
    # Two of the seeded order-export incidents opened after the change (days 2 and 3), none before it counts.
    assert [i.opened_at - START for i in contract.incidents_after] == [
        timedelta(days=2, hours=8),
        timedelta(days=3, hours=12),
    ]
    review = build_review(second.model, engine, END, timedelta(days=7))
    markdown = render_markdown(review)
    section = markdown.split("## Mapping changes\n", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if "erp-sales-order" in line)
    assert "| order-export | contract erp-sales-order | version 2.1.0 → version 2.2.0 |" in row
    assert f"| {getpass.getuser()} |" in row
    ids = [f"#{i.id} (" for i in contract.incidents_after]
    assert all(i in row for i in ids) and len(ids) == 2
    page = render_html(review)
    assert "<h2>Mapping changes</h2>" in page and "version 2.1.0 → version 2.2.0" in page
    # The flow's evidence pack keeps the mapping decisions of the last 4 weeks too.
    links = Links("http://localhost:8000", "http://localhost:3000")
    pack = render_pack(build_pack(second.model, engine, links, "order-export", END))
    assert "| contract erp-sales-order | changed: version 2.1.0 → version 2.2.0 |" in pack


def git(root: Path, *args: str, author: str = "Alice") -> None:
    subprocess.run(
        ["git", "-c", f"user.name={author}", "-c", f"user.email={author.lower()}@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_since_a_git_ref_names_the_author_and_can_be_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    model_dir = copy_model(tmp_path / "repo")
    git(model_dir, "init", "-q")
    git(model_dir, "add", ".")
    git(model_dir, "commit", "-q", "-m", "model")
    edit(
        model_dir / "flows/orders.yaml", "entity_id: erp.sales_order.external_ref", "entity_id: erp.order.external_ref"
    )
    git(model_dir, "commit", "-q", "-am", "mapping", author="Bob")
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    runner = CliRunner()
    found = runner.invoke(app, ["mapping-changes", "-m", str(model_dir), "--since", "HEAD~1", "--json", "--record"])
    assert found.exit_code == 0, found.output
    [change] = json.loads(found.output)
    assert change["flow"] == "order-export"
    assert change["subject"] == "span erp-connector/SalesOrder.create"
    assert change["kind"] == "changed" and change["changed_by"] == "Bob" and change["source"] == "git"
    assert "erp.order.external_ref" in change["after"]
    kept = runner.invoke(app, ["mapping-changes", "-m", str(model_dir), "--period", "1d"])
    assert kept.exit_code == 0, kept.output
    assert "order-export mapping span erp-connector/SalesOrder.create changed by Bob" in kept.output
    bad = runner.invoke(app, ["mapping-changes", "-m", str(model_dir), "--since", "no-such-ref"])
    assert bad.exit_code == 1
    assert bad.output.startswith("error: the model at no-such-ref cannot be read")
    assert "Traceback" not in bad.output
