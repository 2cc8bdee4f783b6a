"""`flowhealth db`: the state database's schema version, and migrating it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import FlowHealthError
from ..store.db import make_engine
from ..store.migrate import SchemaState, SchemaVersion, schema_version, upgrade
from .common import ModelDir, settings_for
from .failures import sentence

app = typer.Typer(
    help="The state database (FLOWHEALTH_DATABASE_URL or --state): schema version and migrations.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]

_MEANING = {
    SchemaState.EMPTY: "empty: `flowhealth db upgrade` or `flowhealth serve` creates the tables",
    SchemaState.UNVERSIONED: "made before schema versions: `flowhealth db upgrade` recognises and migrates it",
    SchemaState.BEHIND: "older than this flowhealth: run `flowhealth db upgrade`",
    SchemaState.CURRENT: "up to date",
    SchemaState.AHEAD: "written by a newer flowhealth: upgrade flowhealth",
}


def _show(version: SchemaVersion, as_json: bool, before: SchemaVersion | None = None) -> None:
    if as_json:
        document = version.as_dict()
        if before is not None:
            document["previous"] = before.current
        typer.echo(json.dumps(document, indent=2))
        return
    if before is not None and before.current != version.current:
        typer.echo(f"migrated the state database from {before.current or before.state.value} to {version.current}")
        return
    typer.echo(f"{version.current or '-'} (head {version.head}): {_MEANING[version.state]}")


def _fail(exc: FlowHealthError) -> typer.Exit:
    typer.echo(f"error: {sentence(exc)}", err=True)
    return typer.Exit(1)


@app.command()
def current(model_dir: ModelDir = Path("."), as_json: AsJson = False) -> None:
    """Print the schema revision of the state database and the newest this flowhealth knows; exit 1 unless equal."""
    try:
        version = schema_version(make_engine(settings_for(model_dir).database_url))
    except FlowHealthError as exc:
        raise _fail(exc) from None
    _show(version, as_json)
    if version.state is not SchemaState.CURRENT:
        raise typer.Exit(1)


@app.command("upgrade")
def upgrade_command(model_dir: ModelDir = Path("."), as_json: AsJson = False) -> None:
    """Migrate the state database to this flowhealth's schema, under a lock; rows are kept."""
    try:
        engine = make_engine(settings_for(model_dir).database_url)
        before = schema_version(engine)
        after = upgrade(engine)
    except FlowHealthError as exc:
        raise _fail(exc) from None
    _show(after, as_json, before)
