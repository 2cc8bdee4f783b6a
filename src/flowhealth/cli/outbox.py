"""`flowhealth outbox`: what waits to be delivered and why, and sending dead letters again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from ..errors import FlowHealthError
from ..settings import Settings
from ..store.db import make_engine, transaction
from ..store.migrate import require_current
from ..store.outbox import replay as replay_message
from ..store.outbox import waiting
from ..store.tables import OutboxMessage
from .common import ModelDir
from .failures import sentence

app = typer.Typer(
    help="The notification outbox: waiting and dead-lettered messages, and replaying them.", no_args_is_help=True
)


def _engine() -> Engine:
    settings = Settings()
    try:
        engine = make_engine(settings.database_url)
        require_current(engine)
    except FlowHealthError as exc:
        typer.echo(f"error: {sentence(exc)}", err=True)
        raise typer.Exit(1) from None
    return engine


def _state(row: OutboxMessage) -> str:
    if row.delivered_at is not None:
        return "delivered"
    return "dead letter" if row.dead_lettered_at is not None else "waiting"


def _as_dict(row: OutboxMessage) -> dict[str, object]:
    return {
        "id": row.id,
        "state": _state(row),
        "receiver": row.receiver,
        "channel": row.channel,
        "kind": row.kind,
        "thread": row.thread_key,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "last_error": row.last_error,
    }


@app.command("list")
def list_messages(
    model_dir: ModelDir = Path("."),
    include_delivered: Annotated[bool, typer.Option("--all", help="Include delivered messages.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Messages not delivered yet: waiting (with the reason of the last failure) or dead-lettered."""
    with transaction(_engine()) as session:
        rows = [_as_dict(r) for r in waiting(session, include_delivered=include_delivered)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("nothing waits: every notification was delivered")
        return
    for r in rows:
        reason = f" — {r['last_error']}" if r["last_error"] else ""
        typer.echo(f"#{r['id']:<5} {r['state']:<11} {r['receiver']:<22} {r['kind']:<6} {r['attempts']} tries{reason}")


@app.command()
def replay(
    message_id: Annotated[int, typer.Argument(help="Outbox message id (from `flowhealth outbox list`).")],
    model_dir: ModelDir = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send a dead-lettered or waiting message again on the next delivery pass."""
    with transaction(_engine()) as session:
        row = replay_message(session, message_id, datetime.now(UTC))
        shown = _as_dict(row) if row is not None else None
    if shown is None:
        typer.echo(f"error: no undelivered outbox message #{message_id}", err=True)
        raise typer.Exit(1)
    typer.echo(
        json.dumps(shown, indent=2) if as_json else f"message #{message_id} will be sent on the next delivery pass"
    )
