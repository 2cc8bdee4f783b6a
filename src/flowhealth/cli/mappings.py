"""`flowhealth mapping-changes`: contract versions, identifiers, span mappings and probe queries that changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, ModelError
from .common import ModelDir, load_or_exit


def mapping_changes(
    model_dir: ModelDir = Path("."),
    since: Annotated[
        str | None, typer.Option(help="A git ref: compare the model committed there with the model dir now.")
    ] = None,
    period: Annotated[str, typer.Option(help="Without --since: recorded changes of this recent past.")] = "7d",
    record: Annotated[bool, typer.Option("--record", help="With --since: keep the changes for the review.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
) -> None:
    """List mapping changes: recorded at each start and reload, or found in git with --since REF."""
    from ..hypercare.mapping_changes import RecordedChange, record_git_changes, recorded_changes
    from ..model.durations import parse_duration
    from ..model.gitref import last_author, model_at
    from ..model.mappings import diff_facts, mapping_facts
    from ..settings import Settings
    from ..store.db import init_schema, make_engine

    model = load_or_exit(model_dir)
    now = datetime.now(UTC)
    engine = make_engine(Settings().database_url)
    init_schema(engine)
    if since is not None:
        try:
            before = model_at(model_dir, since, Settings().model_limits())
            author = last_author(model_dir, since)
        except (ConfigError, ModelError) as exc:
            typer.echo(f"error: the model at {since} cannot be read: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(1) from None
        who, when = (author.name, author.at) if author else ("uncommitted", now)
        changes = [RecordedChange(c, who, when, "git") for c in diff_facts(mapping_facts(before), mapping_facts(model))]
        if record:
            record_git_changes(engine, changes)
    else:
        try:
            length = parse_duration(period)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        changes = recorded_changes(engine, now - length, now)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "flow": r.change.flow,
                        "aspect": r.change.aspect.value,
                        "subject": r.change.subject,
                        "kind": r.change.kind.value,
                        "before": r.change.before,
                        "after": r.change.after,
                        "changed_by": r.changed_by,
                        "changed_at": r.changed_at.isoformat(),
                        "source": r.source,
                    }
                    for r in changes
                ],
                indent=2,
            )
        )
        return
    if not changes:
        typer.echo("no mapping changes")
        return
    for r in changes:
        c = r.change
        typer.echo(
            f"{r.changed_at:%Y-%m-%d %H:%M} {c.flow} {c.aspect.value} {c.subject} {c.kind.value} by {r.changed_by}"
        )
        if c.before is not None:
            typer.echo(f"  - {c.before}")
        if c.after is not None:
            typer.echo(f"  + {c.after}")
