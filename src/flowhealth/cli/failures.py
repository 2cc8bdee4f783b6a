"""The CLI's error boundary: whatever a command did not handle becomes one sentence, never a traceback.

`GuardedGroup` is the click group of `flowhealth`; every command and sub-command runs inside its
`invoke`, so an error escaping any of them reaches `sentence()`. `sentence()` walks `DESCRIBERS`,
most specific first: add a `(type, describe)` pair there for a new case (schema versions, a locked
SQLite file, ...). Every sentence is one line, with passwords in URLs masked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import FlowHealthError, ModelError, StoreError

Describe = Callable[[Any], str | None]

# `scheme://user:password@host` anywhere in a message: the password never reaches the terminal.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]+@")
# SQLAlchemy's decorations: "(psycopg.OperationalError) " and its "(Background on this error ...)".
_DRIVER_CLASS = re.compile(r"\((?:[\w]+\.)+\w+\) ")
_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")


def one_line(text: str) -> str:
    """The first meaningful line of a message, without SQLAlchemy's decorations or passwords."""
    text = _BACKGROUND.sub("", _DRIVER_CLASS.sub("", text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _URL_PASSWORD.sub(r"\1***@", lines[0] if lines else "")


def _model(exc: ModelError) -> str:
    first = exc.issues[0] if exc.issues else "no details"
    return f"the model has {len(exc.issues)} problem(s); the first: {first}"


def _database_down(exc: BaseException | None) -> str | None:
    """The database could not be reached: say so, rather than which statement failed."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    # Statement None: the driver failed while connecting, not on a query (SQLite's "no such
    # column" or "database is locked" are OperationalErrors too, with their statement).
    if isinstance(exc, OperationalError | InterfaceError) and exc.statement is None:
        return f"cannot reach the state database (FLOWHEALTH_DATABASE_URL): {one_line(str(exc.orig or exc))}"
    return None


def _store(exc: StoreError) -> str | None:
    # StoreError is raised `from None` at the store's boundary; the driver error is still its context.
    return _database_down(exc.__cause__ or exc.__context__) or one_line(str(exc))


def _sqlalchemy(exc: Exception) -> str | None:
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return f"FLOWHEALTH_DATABASE_URL cannot be used: {one_line(str(exc))}"
    if isinstance(exc, SQLAlchemyError):
        return _database_down(exc) or f"state database error: {one_line(str(exc))}"
    return None


def _settings(exc: Exception) -> str | None:
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return None
    error = exc.errors(include_url=False)[0]
    name = "_".join(str(part) for part in error["loc"]).upper()
    variable = name if name.startswith(("SLACK_", "FLOWHEALTH_")) else f"FLOWHEALTH_{name}"
    return f"setting {variable} is invalid: {error['msg']}"


def _os(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or one_line(str(exc))}{where}"


DESCRIBERS: list[tuple[type[BaseException], Describe]] = [
    (ModelError, _model),
    (StoreError, _store),
    (FlowHealthError, lambda exc: one_line(str(exc))),
    (Exception, _sqlalchemy),
    (Exception, _settings),
    (OSError, _os),
    (ImportError, lambda exc: f"a module is missing: {exc.name} (pip install 'flowhealth[all]')"),
]


def sentence(exc: BaseException) -> str:
    """One line saying what went wrong, for a person at a terminal."""
    for kind, describe in DESCRIBERS:
        if isinstance(exc, kind):
            text = describe(exc)
            if text:
                return text
    return f"unexpected {type(exc).__name__}: {one_line(str(exc)) or 'no details'}"


class GuardedGroup(TyperGroup):
    """The `flowhealth` group: any error escaping a command ends as `error: <sentence>`, exit 1."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own ways out: exit codes, usage errors, Ctrl-C
        except Exception as exc:
            typer.echo(f"error: {sentence(exc)}", err=True)
            raise typer.Exit(1) from None
