"""`flowhealth alerts`: pending and firing alerts from the state database, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import JsonOpt, ModelDir, load_or_exit, settings_for


def alerts(
    model_dir: ModelDir = Path("."),
    all_states: Annotated[bool, typer.Option("--all", help="Include inactive alerts.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List pending and firing alerts from the state database."""
    from sqlmodel import Session, col, select

    from ..model.durations import format_reading
    from ..store.db import make_engine
    from ..store.migrate import require_current
    from ..store.tables import AlertState
    from ..store.types import labels_of

    model = load_or_exit(model_dir)
    engine = make_engine(settings_for(model_dir).database_url)
    require_current(engine)
    with Session(engine) as session:
        rows = session.exec(select(AlertState).order_by(col(AlertState.rule))).all()
    shown = [r for r in rows if all_states or r.state != "inactive"]
    out: list[dict[str, Any]] = []
    for r in shown:
        # The start of the current state: a series that fired before and is pending again
        # still holds its old firing_since.
        since = r.firing_since if r.state == "firing" else r.pending_since if r.state == "pending" else r.resolved_at
        rule = model.all_rules().get(r.rule)
        unit = model.signal(rule.flow, rule.signal).unit if rule is not None else ""
        out.append(
            {
                "state": r.state,
                "rule": r.rule,
                "labels": labels_of(r.labels),
                "owner": r.owner,
                "value": r.last_value,
                "unit": unit,
                "value_text": format_reading(r.last_value, unit) if unit else str(r.last_value),
                "since": since.isoformat() if since else None,
                "incident": r.incident_id,
            }
        )
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    if not out:
        typer.echo("no alerts")
        return
    typer.echo(f"{'STATE':9} {'RULE':34} {'OWNER':20} {'VALUE':>14}  {'INCIDENT':>8}  SINCE")
    for row, r in zip(out, shown, strict=True):
        labels = "" if r.labels == "{}" else r.labels
        since_text = row["since"][:16].replace("T", " ") + " UTC" if row["since"] else ""
        incident = f"#{row['incident']}" if row["incident"] else "-"
        typer.echo(
            f"{r.state:9} {r.rule + labels:34} {r.owner or '-':20} {row['value_text']:>14}  {incident:>8}  {since_text}"
        )
