"""`flowhealth db current` and `flowhealth db upgrade` as an operator runs them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.errors import StoreError
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.failures import SQLITE_LOCKED
from flowhealth.store.migrate import head_revision
from flowhealth.store.tables import Silence
from tests.support.schema import upgrade_to

NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)

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


def test_a_command_on_an_older_schema_says_so_in_one_sentence(state_url: str, tmp_path: Path) -> None:
    engine = make_engine(state_url)
    upgrade_to(engine, "0001")
    engine.dispose()
    result = subprocess.run(
        [sys.executable, "-c", "from flowhealth.cli.main import main; main()", "alerts"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FLOWHEALTH_DATABASE_URL": state_url},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: the state database's schema is older than this flowhealth (revision 0001, needs {head_revision()});"
        " run `flowhealth db upgrade` first (serve does it when it starts)"
    ]


def test_a_locked_sqlite_file_is_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    engine = make_engine(f"sqlite:///{path}")
    init_schema(engine)
    # Wait 0.2 s instead of the usual 30 s for the lock; the listener runs after flowhealth's own pragmas.
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=200"))
    engine.dispose()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as raised, transaction(engine) as session:
            session.add(Silence(matchers="{}", starts_at=NOW, ends_at=NOW, author="a", reason="r", created_at=NOW))
    finally:
        holder.rollback()
        holder.close()
    assert str(raised.value) == f"state database error: {SQLITE_LOCKED}"
