"""`flowhealth db current` and `flowhealth db upgrade` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.store.migrate import head_revision

runner = CliRunner()


@pytest.fixture
def state_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", url)
    return url


def test_current_then_upgrade_then_current(state_url: str) -> None:
    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 1
    assert f"- (head {head_revision()}): empty" in before.output

    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.strip() == f"migrated the state database from empty to {head_revision()}"

    after = runner.invoke(app, ["db", "current", "--json"])
    assert after.exit_code == 0
    assert json.loads(after.output) == {"state": "current", "current": head_revision(), "head": head_revision()}


def test_upgrade_of_a_current_database_changes_nothing(state_url: str) -> None:
    runner.invoke(app, ["db", "upgrade"])
    again = runner.invoke(app, ["db", "upgrade", "--json"])
    assert again.exit_code == 0
    assert json.loads(again.output)["previous"] == head_revision()


def test_db_commands_take_the_model_dir_option_and_explain_themselves(state_url: str) -> None:
    assert runner.invoke(app, ["db", "current", "-m", "."]).exit_code == 1
    assert "Migrate the state database" in runner.invoke(app, ["db", "upgrade", "--help"]).output
