"""Every command of the CLI, found by walking the Typer app (so commands added later are checked too):
`-m/--model-dir` everywhere, `--json` wherever a table is printed, `--help` on each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from flowhealth.cli.main import app

runner = CliRunner()


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    children = getattr(command, "commands", None)
    if children:
        for name, child in sorted(children.items()):
            yield from _leaves(child, (*path, name))
    else:
        yield path, command


COMMANDS = list(_leaves(typer.main.get_command(app)))
IDS = [" ".join(path) for path, _ in COMMANDS]


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def _prints_a_table(command: Any) -> bool:
    # A command that lists things ("List ...") or offers a table format prints a table.
    helps = [getattr(p, "help", None) or "" for p in command.params]
    return (command.help or "").startswith("List") or any(re.search(r"\btable\b", h.lower()) for h in helps)


def test_the_walk_finds_the_commands() -> None:
    assert {"validate", "init", "add flow", "alerts", "probe run", "silence list", "intervention"} <= set(IDS)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_takes_the_model_directory(path: tuple[str, ...], command: Any) -> None:
    assert {"-m", "--model-dir"} <= _options(command), f"`flowhealth {' '.join(path)}` has no -m/--model-dir"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "--model-dir" in result.output and "-m" in result.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_table_has_json(path: tuple[str, ...], command: Any) -> None:
    if _prints_a_table(command):
        assert "--json" in _options(command), f"`flowhealth {' '.join(path)}` prints a table but has no --json"


def test_tables_are_recognised() -> None:
    tables = {" ".join(path) for path, command in COMMANDS if _prints_a_table(command)}
    assert {"alerts", "incidents", "silence list", "readiness"} <= tables


def test_shell_completion_is_installable() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output
