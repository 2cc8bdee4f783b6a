"""Every command, every way its database or model can be broken: one sentence, never a traceback.

The walk reads the command tree from the CLI itself, so a new command must be classified below
(touches the state database or not) before this test passes again.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import SQLModel
from typer.testing import CliRunner

from flowhealth.cli.failures import one_line, sentence
from flowhealth.cli.main import app
from flowhealth.errors import StoreError
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent

# Commands that open the state database (FLOWHEALTH_DATABASE_URL).
TOUCHES_DATABASE = {
    "alerts",
    "incidents",
    "ack",
    "resolve",
    "silence create",
    "silence list",
    "silence expire",
    "readiness",
    "review",
    "backtest",
    "serve",
    "db current",
    "db upgrade",
    "outbox list",
    "outbox replay",
    "evidence",
    "mapping-changes",
    "intervention",
}
# Commands that do not: the demo keeps its own SQLite files, `probe run` stores nothing, the
# exports and dashboards are generated from the model, push and intervention talk HTTP.
NO_DATABASE = {
    "validate",
    "schema",
    "demo",
    "probe run",
    "dashboards build",
    "export prometheus-rules",
    "export alertmanager",
    "init",
    "add flow",
    "routes test",
    "push",  # the sample signal is not a push signal: refused from the model before the database
}
# Commands that do not read the model at all (`alerts` and `db` work on the state database alone).
NO_MODEL = {"schema", "init", "db current", "db upgrade", "outbox list", "outbox replay"}  # init writes a new model

SAMPLE_ARGUMENTS = {
    "flow": "order-export",
    "signal": "export_delay",
    "value": "1",
    "incident": "1",
    "silence_id": "1",
    "reason": "testing",
    "record": "A-1",
    "rule": "order-export-delayed",
    "message_id": "1",
    "rule_id": "orders-below-expected",
}


def leaf_commands() -> dict[str, Any]:
    root = typer.main.get_command(app)
    found: dict[str, Any] = {}

    def walk(command: Any, prefix: str) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, f"{prefix} {name}".strip())
        else:
            found[prefix] = command

    walk(root, "")
    return found


def arguments(name: str, command: Any, model_dir: Path, work: Path) -> list[str]:
    args = name.split()
    for param in command.params:
        if param.name == "model_dir":
            args += [str(model_dir)] if not param.opts[0].startswith("-") else ["-m", str(model_dir)]
        elif param.name == "url":
            pass  # without --url every write command works on the state database (cli/remote.py)
        elif param.required:
            value = SAMPLE_ARGUMENTS[param.name]
            args += [value] if not param.opts[0].startswith("-") else [param.opts[0], value]
    extra = {
        "serve": ["--port", "0"],
        "silence create": ["--flow", "order-export"],
        "demo": ["--work-dir", str(work / "demo"), "--port", "0", "--timeout", "5"],
        "dashboards build": ["--out", str(work / "out")],
        "export prometheus-rules": ["--out", str(work / "out")],
        "export alertmanager": ["--out", str(work / "am.yml")],
        "evidence": ["order-export", "--out", str(work / "evidence")],
    }
    return args + extra.get(name, [])


def run(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, args, env={"FLOWHEALTH_API_TOKEN": "t", **env})
    # Anything but SystemExit here is an exception that escaped the CLI: a traceback for the user.
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip().splitlines()


def test_every_command_is_classified() -> None:
    assert set(leaf_commands()) == TOUCHES_DATABASE | NO_DATABASE


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    copy_reference(root)
    return root


def old_schema(path: Path) -> str:
    """A state database whose tables all lack the columns this version reads."""
    with sqlite3.connect(path) as db:
        for table in SQLModel.metadata.tables:
            db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY)')
    return f"sqlite:///{path}"


BROKEN_DATABASES = {
    # The attack's URL: SQLAlchemy reads the port with int() and used to crash with ValueError.
    "port not a number": ("postgresql+psycopg://u:pw-canary@h:notaport/db", "port that is not a number"),
    "not a URL": ("not a url", "is not a database URL"),
    "unknown driver": ("nosuchdb://u:pw-canary@h/db", "cannot use database nosuchdb://u:***@h/db"),
    "unreachable": ("postgresql+psycopg://u:pw-canary@127.0.0.1:1/db", "cannot reach the state database"),
    "unknown host": ("postgresql+psycopg://u:pw-canary@no-such-host.invalid/db", "cannot reach the state database"),
    "old schema": ("OLD", "schema"),  # worded by the schema versions (store/migrate.py)
}


WAITED_FOR = {"unreachable", "unknown host"}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("case", sorted(BROKEN_DATABASES))
def test_every_database_command_says_one_sentence(case: str, model_dir: Path, tmp_path: Path) -> None:
    url, expected = BROKEN_DATABASES[case]
    if url == "OLD":
        url = old_schema(tmp_path / "old.db")
    commands = leaf_commands()
    walked = TOUCHES_DATABASE
    if case in WAITED_FOR:
        # `serve` waits for a database that is down (backoff, /healthz degraded) instead of exiting:
        # in a compose stack PostgreSQL often starts after flowhealth (tests/test_faults_database.py).
        walked = TOUCHES_DATABASE - {"serve"}
    for name in sorted(walked):
        code, lines = run(arguments(name, commands[name], model_dir, tmp_path), {"FLOWHEALTH_DATABASE_URL": url})
        assert code == 1, (name, lines)
        assert len(lines) == 1, (name, lines)
        # `db current` reports an old schema as its answer (exit 1), not as an error.
        assert lines[0].startswith("error: ") or (case == "old schema" and name == "db current"), (name, lines)
        assert expected in lines[0], (name, lines)
        assert "pw-canary" not in lines[0]


@pytest.mark.timeout(240)
def test_every_command_names_the_broken_model_file(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "flows/broken.yaml").write_text("flows:\n  order-export: [\n")
    commands = leaf_commands()
    env = {"FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    for name in sorted(set(commands) - NO_MODEL):
        code, lines = run(arguments(name, commands[name], model_dir, tmp_path), env)
        assert code == 1, (name, lines)
        assert any(line.startswith("flows/broken.yaml:3: invalid YAML") for line in lines), (name, lines)


def test_commands_without_a_model_still_answer_in_one_sentence(model_dir: Path, tmp_path: Path) -> None:
    commands = leaf_commands()
    unreachable = ["--url", "http://127.0.0.1:1"]  # through the API; nothing listens on port 1
    for name in ("push", "intervention"):
        code, lines = run(arguments(name, commands[name], model_dir, tmp_path) + unreachable, {})
        assert code == 1 and len(lines) == 1 and "cannot reach http://127.0.0.1:1" in lines[0], (name, lines)


def test_the_installed_command_prints_no_traceback(model_dir: Path) -> None:
    """The issue's reproduction, through the real entry point rather than the test runner."""
    for command in (["alerts"], ["serve", "--port", "0"]):
        result = subprocess.run(
            [sys.executable, "-m", "flowhealth.cli.main", *command, "-m", str(model_dir)],
            env={"FLOWHEALTH_DATABASE_URL": "postgresql+psycopg://u:pw@h:notaport/db", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr.strip() == "error: FLOWHEALTH_DATABASE_URL has a port that is not a number"


def test_a_setting_that_is_not_a_number_is_named() -> None:
    code, lines = run(["alerts"], {"FLOWHEALTH_EVALUATION_INTERVAL": "soon"})
    assert code == 1
    assert lines[0].startswith("error: setting FLOWHEALTH_EVALUATION_INTERVAL is invalid:")


def test_sentences_are_one_line_and_mask_passwords() -> None:
    message = (
        "cannot prepare: (psycopg.OperationalError) connection to postgresql://app:s3cret@db/x failed\n"
        "\tIs the server running?\n(Background on this error at: https://sqlalche.me/e/21/e3q8)"
    )
    assert one_line(message) == "cannot prepare: connection to postgresql://app:***@db/x failed"
    assert sentence(StoreError(message)) == "cannot prepare: connection to postgresql://app:***@db/x failed"
    assert sentence(KeyError("x")) == "unexpected KeyError: 'x'"
