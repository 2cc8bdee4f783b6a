"""Answers for `flowhealth init` and `add flow`: from a flag, a prompt or the default, checked before anything is written.

A bad flag stops the command with one sentence; a bad answer on a terminal is asked again. Both
happen before the model is written, so the user never sees errors about files that were then
taken back.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import zoneinfo
from collections.abc import Callable

import typer

# The model's id pattern (model/base.py `Ident`), checked here without importing the model
# package: every TAB of shell completion starts the CLI.
_IDENT = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

Check = Callable[[str], str | None]


def ident_problem(value: str) -> str | None:
    """Why `value` cannot be a team, system, flow or connection id, or None."""
    if _IDENT.match(value):
        return None
    return f"'{value}' is not an id: lower-case letters, digits, - and _, starting with a letter"


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone (with the closest one), or None."""
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        close = difflib.get_close_matches(name, zoneinfo.available_timezones(), n=1)
        hint = f"did you mean {close[0]}?" if close else "use an IANA name such as Europe/Berlin"
        return f"'{name}' is not a time zone; {hint}"
    return None


def local_zone() -> str:
    """This machine's IANA zone name, so Enter gives the shop's weeks in local time; else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        name = os.path.realpath("/etc/localtime").partition("/zoneinfo/")[2]
    return name if name and zone_problem(name) is None else "UTC"


class Asker:
    """The flag's value, else the answer to a prompt (on a terminal), else the default."""

    def __init__(self, interactive: bool | None) -> None:
        self.interactive = sys.stdin.isatty() if interactive is None else interactive

    def _answer(self, given: str | None, question: str, default: str, choices: list[str] | None) -> str:
        if given is not None:
            return given
        if not self.interactive:
            return default
        hint = f" ({', '.join(choices)})" if choices else ""
        while True:
            answer = str(typer.prompt(question + hint, default=default)).strip()
            if not choices or answer in choices:
                return answer
            typer.echo(f"'{answer}' is not one of {', '.join(choices)}")

    def __call__(
        self,
        given: str | None,
        question: str,
        default: str,
        choices: list[str] | None = None,
        check: Check | None = None,
    ) -> str:
        while True:
            answer = self._answer(given, question, default, choices)
            problem = check(answer) if check is not None else None
            if problem is None:
                return answer
            if given is not None or not self.interactive:
                raise typer.BadParameter(problem)
            typer.echo(problem)


def pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    """`id=value` flags (`--team integration=#alerts`) as pairs, each id checked."""
    found = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise typer.BadParameter(f"{value!r} is not {what}")
        problem = ident_problem(name.strip())
        if problem is not None:
            raise typer.BadParameter(problem)
        found.append((name.strip(), rest.strip()))
    return found
