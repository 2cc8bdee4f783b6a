"""`flowhealth incidents | ack | resolve | silence`: the Slack buttons, for people at a terminal.

These work on the state database directly; the running service picks up the change and edits
the Slack message on its next delivery pass. With --url / FLOWHEALTH_URL they go through the
service's API instead (the rule of every write command, cli/remote.py).
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOpt, ModelDir, load_or_exit, settings_for
from .failures import sentence
from .remote import ServerUrl, post

if TYPE_CHECKING:
    from ..alerting.actions import Actions

# The alerting, store and model modules are imported where a command runs, not when the CLI
# starts: `flowhealth --help` and every other command would pay for them (issue 19).

silence_app = typer.Typer(help="Create, list and expire silences.", no_args_is_help=True)

Actor = Annotated[str, typer.Option("--as", help="Who you are (shown in Slack and history).")]


def _actions(model_dir: Path) -> Actions:
    from ..alerting.actions import Actions
    from ..alerting.incidents import IncidentManager
    from ..clock import SystemClock
    from ..errors import FlowHealthError
    from ..links import Links
    from ..store.db import make_engine
    from ..store.migrate import require_current

    settings = settings_for(model_dir)
    model = load_or_exit(model_dir)
    try:
        engine = make_engine(settings.database_url)
        require_current(engine)
    except FlowHealthError as exc:
        typer.echo(f"error: {sentence(exc)}", err=True)
        raise typer.Exit(1) from None
    links = Links(settings.public_url, settings.grafana_url, settings.runbook_base_url)
    return Actions(model, engine, SystemClock(), IncidentManager(model, links))


def _duration(text: str) -> timedelta:
    from ..model.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _run(action: str, fn: object) -> None:
    from ..alerting.actions import ActionError
    from ..alerting.silences import SilenceError

    try:
        fn()  # type: ignore[operator]
    except (ActionError, SilenceError) as exc:
        typer.echo(f"cannot {action}: {exc}", err=True)
        raise typer.Exit(1) from None


def incidents(
    model_dir: ModelDir = Path("."),
    all_incidents: Annotated[bool, typer.Option("--all", help="Include resolved incidents (last 100).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List open incidents: owner, severity, acknowledgement, escalations, alerts."""
    rows = _actions(model_dir).summaries(include_resolved=all_incidents)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    if not rows:
        typer.echo("no open incidents" if not all_incidents else "no incidents")
        return
    typer.echo(f"{'#':>5} {'STATUS':9} {'SEVERITY':9} {'TEAM':20} {'GROUP':34} {'ACKED BY':18} ALERTS")
    for row in rows:
        alerts = ", ".join(f"{a.rule}({a.state})" for a in row.alerts)
        typer.echo(
            f"{row.incident:>5} {row.status:9} {row.severity:9} {row.team:20} {row.group:34} {row.acked_by or '-':18} {alerts}"
        )


def ack(
    incident: Annotated[str, typer.Argument(help="Incident number, or a firing rule's name.")],
    actor: Actor = getpass.getuser(),
    ttl: Annotated[str, typer.Option("--for", help="How long the acknowledgement holds.")] = "4h",
    model_dir: ModelDir = Path("."),
    url: ServerUrl = None,
) -> None:
    """Acknowledge an incident: escalation stops until the acknowledgement expires."""
    if url:
        answer = post(url, f"/api/v1/incidents/{incident}/ack", {"actor": actor, "ttl": ttl})
        typer.echo(f"acknowledged incident {answer['incident']} for {ttl}")
        return
    from ..alerting.enums import ActionSource

    actions = _actions(model_dir)
    _run(
        "acknowledge",
        lambda: typer.echo(
            f"acknowledged incident {actions.ack(incident, actor, _duration(ttl), source=ActionSource.CLI).id} for {ttl}"
        ),
    )


def resolve(
    incident: Annotated[str, typer.Argument(help="Incident number, or a firing rule's name.")],
    actor: Actor = getpass.getuser(),
    model_dir: ModelDir = Path("."),
    url: ServerUrl = None,
) -> None:
    """Resolve an incident by hand; alerts still firing stay quiet until they clear."""
    if url:
        typer.echo(
            f"resolved incident {post(url, f'/api/v1/incidents/{incident}/resolve', {'actor': actor})['incident']}"
        )
        return
    from ..alerting.enums import ActionSource

    actions = _actions(model_dir)
    _run(
        "resolve",
        lambda: typer.echo(f"resolved incident {actions.resolve(incident, actor, source=ActionSource.CLI).id}"),
    )


@silence_app.command("create")
def silence_create(
    reason: Annotated[str, typer.Option(help="Why (required; shown in Slack).")],
    flow: Annotated[str | None, typer.Option(help="Match alerts of this flow.")] = None,
    system: Annotated[str | None, typer.Option(help="Match alerts of flows touching this system.")] = None,
    team: Annotated[str | None, typer.Option(help="Match alerts owned by this team.")] = None,
    rule: Annotated[str | None, typer.Option(help="Match alerts of this rule.")] = None,
    severity: Annotated[str | None, typer.Option(help="Match alerts of this severity.")] = None,
    duration: Annotated[str, typer.Option("--for", help="How long, e.g. 2h.")] = "1h",
    actor: Actor = getpass.getuser(),
    model_dir: ModelDir = Path("."),
    url: ServerUrl = None,
) -> None:
    """Silence matching alerts from now on; the owners' channels are told when it starts and ends."""
    matchers = {
        k: v for k, v in {"flow": flow, "system": system, "team": team, "rule": rule, "severity": severity}.items() if v
    }
    if url:
        body = {"matchers": matchers, "duration": duration, "reason": reason, "author": actor}
        answer = post(url, "/api/v1/silences", body)
        typer.echo(f"silence {answer['id']} until {answer['ends_at'][:16].replace('T', ' ')} UTC")
        return
    actions = _actions(model_dir)
    ends = datetime.now(UTC) + _duration(duration)

    def create() -> None:
        silence = actions.silence(matchers, ends, actor, reason)
        typer.echo(f"silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%M} UTC")

    _run("silence", create)


@silence_app.command("list")
def silence_list(
    all_silences: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    model_dir: ModelDir = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List active and upcoming silences."""
    from ..model.durations import human_duration

    rows = _actions(model_dir).list_silences(include_expired=all_silences)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": s.id,
                        "matchers": json.loads(s.matchers),
                        "author": s.author,
                        "reason": s.reason,
                        "starts_at": s.starts_at.isoformat(),
                        "ends_at": s.ends_at.isoformat(),
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        typer.echo("no silences")
        return
    now = datetime.now(UTC)
    for s in rows:
        left = human_duration(max(0.0, (s.ends_at - now).total_seconds()))
        typer.echo(
            f"{s.id:>4}  {s.matchers}  by {s.author}  until {s.ends_at:%Y-%m-%d %H:%M} UTC ({left} left)  {s.reason}"
        )


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[int, typer.Argument(help="The silence's number.")],
    actor: Actor = getpass.getuser(),
    model_dir: ModelDir = Path("."),
) -> None:
    """End a silence now."""
    actions = _actions(model_dir)
    _run("expire", lambda: typer.echo(f"silence {actions.expire(silence_id, actor).id} expired"))
