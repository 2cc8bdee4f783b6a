"""`flowhealth routes test`: who would be told about a rule, and where, at a given time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ..alerting.route_test import route_plan
from ..model.durations import format_duration
from .common import ModelDir, load_or_exit

app = typer.Typer(help="Routing: who is told about an alert, where, and when it escalates.", no_args_is_help=True)


@app.command("test")
def test(
    rule: Annotated[str, typer.Argument(help="Rule id, e.g. order-export-delayed.")],
    severity: Annotated[
        str | None,
        typer.Option("--severity", "-s", help="Pretend the alert has this severity (critical, warning, info)."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When it fires, ISO 8601 (default: now), e.g. 2026-12-06T03:00+01:00.")
    ] = None,
    model_dir: ModelDir = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print who would be told about RULE firing, where (Slack, PagerDuty, Teams, webhook, email), and escalation."""
    model = load_or_exit(model_dir)
    if severity is not None and severity not in ("critical", "warning", "info"):
        raise typer.BadParameter("must be critical, warning or info", param_hint="--severity")
    when = _parse_time(at)
    if rule not in model.all_rules():
        known = ", ".join(sorted(model.rules)[:8])
        typer.echo(f"error: no rule {rule!r} in {model_dir} (rules: {known}, ...)", err=True)
        raise typer.Exit(2)
    plan = route_plan(model, rule, when, severity)
    if as_json:
        typer.echo(json.dumps(plan.as_dict(), indent=2))
        return
    typer.echo(f"{plan.rule} ({plan.severity}, flow {plan.flow}) at {plan.at:%Y-%m-%d %H:%M %Z}")
    typer.echo(f"  owner: {plan.team}")
    if plan.held_by:
        typer.echo(f"  held: maintenance window {plan.held_by} is active; nobody is told until it ends")
    for d in plan.destinations:
        typer.echo(f"  → {d.kind:<9} {d.receiver:<12} {d.target}  ({d.when})")
    if plan.escalation_team is None:
        typer.echo("  escalation: none (the team has no escalation target; reminders only)")
    else:
        after = format_duration(plan.escalate_after.total_seconds()) if plan.escalate_after else "?"
        note = "" if plan.escalates_now else "; outside business hours it waits for the morning"
        typer.echo(f"  escalation: to {plan.escalation_team} after {after} without an ack{note}")


def _parse_time(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--at") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
