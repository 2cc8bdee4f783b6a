"""`flowhealth init` and `flowhealth add flow`: start a model of one's own from templates.

Every answer has a flag, so scripts never block on a prompt; without a terminal (or with
--no-interactive) the defaults are taken for what no flag gave.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ModelError
from ..scaffold import TEMPLATES, Database, FlowParams, Queue, ScaffoldError, TemplateName, add_flow, init_model
from ..scaffold.writer import SystemSpec, TeamSpec
from .common import ModelDir

add_app = typer.Typer(help="Add to an existing model.", no_args_is_help=True)

TemplateOpt = Annotated[
    TemplateName | None,
    typer.Option(
        "--template", "-t", help="Flow template: " + "; ".join(f"{k}: {t.summary}" for k, t in TEMPLATES.items())
    ),
]
FlowOpt = Annotated[str | None, typer.Option("--flow", help="Flow id (default: the template's name).")]
DatabaseOpt = Annotated[Database | None, typer.Option(help="Database the SQL templates query.")]
BrokerOpt = Annotated[Queue | None, typer.Option("--broker", help="Broker of the queue template.")]
QueueOpt = Annotated[
    str | None, typer.Option("--queue", help="Queue, Redis key or NATS stream the queue template watches.")
]
ConnectionOpt = Annotated[str | None, typer.Option(help="Connection name (an existing one is reused).")]
UrlEnvOpt = Annotated[str | None, typer.Option(help="Environment variable holding the connection URL.")]
Interactive = Annotated[
    bool | None,
    typer.Option("--interactive/--no-interactive", help="Ask for what no flag gave (default: when on a terminal)."),
]


_QUEUE_DEFAULTS = {Queue.RABBITMQ: "erp.orders", Queue.REDIS: "erp-orders", Queue.NATS: "ORDERS"}


class _Asker:
    def __init__(self, interactive: bool | None) -> None:
        self.interactive = sys.stdin.isatty() if interactive is None else interactive

    def __call__(self, given: str | None, question: str, default: str, choices: list[str] | None = None) -> str:
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


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise typer.BadParameter(f"{value!r} is not {what}")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def _params(
    ask: _Asker,
    template: TemplateName,
    *,
    flow: str | None,
    owner: str,
    source: str,
    target: str,
    database: Database | None,
    broker: Queue | None,
    queue: str | None,
    connection: str | None,
    url_env: str | None,
    known_connections: set[str],
) -> FlowParams:
    spec = TEMPLATES[template]
    flow_id = ask(flow, "Flow id", spec.flow)
    db, broker_kind, queue_name = Database.POSTGRESQL, Queue.RABBITMQ, "erp.orders"
    if template is TemplateName.QUEUE:
        broker_kind = Queue(ask(broker, "Broker", "rabbitmq", [q.value for q in Queue]))
        queue_name = ask(queue, "Queue (Redis key, NATS stream)", _QUEUE_DEFAULTS[broker_kind])
    else:
        db = Database(ask(database, "Database", "postgresql", [d.value for d in Database]))
    conn = ask(connection, "Connection name", spec.connection)
    env = url_env or ("" if conn in known_connections else ask(None, "Environment variable with its URL", spec.url_env))
    return FlowParams(
        flow=flow_id,
        owner=owner,
        source=source,
        target=target,
        connection=conn,
        url_env=env or spec.url_env,
        define_connection=conn not in known_connections,
        database=db,
        queue=broker_kind,
        queue_name=queue_name,
    )


def _check(root: Path, written: list[Path]) -> None:
    """Load what was written; on a problem take the new files back, so nothing half-made stays."""
    try:
        from ..model.loader import load_model  # not at start-up: `--help` does not load a model

        load_model(root)
    except ModelError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo("the template did not fit this model; nothing was kept", err=True)
        raise typer.Exit(1) from None


def _next_steps(root: Path, params: FlowParams) -> None:
    m = "" if root == Path(".") else f" -m {root}"
    typer.echo("next:")
    if params.define_connection:
        typer.echo(f"  export {params.url_env}=...          # the connection's URL (see the comment in the file)")
    typer.echo(f"  flowhealth validate{m}")
    typer.echo(f"  flowhealth probe run {params.flow}{m}   # check the probes against your systems")
    typer.echo(f"  SLACK_BOT_TOKEN=... flowhealth serve{m}")


def init(
    directory: Annotated[
        Path | None, typer.Argument(help="Directory for the new model (default: -m or current).")
    ] = None,
    model_dir: ModelDir = Path("."),
    team: Annotated[
        list[str] | None, typer.Option("--team", help="A team as id=#channel; repeatable; the first owns the flow.")
    ] = None,
    system: Annotated[
        list[str] | None, typer.Option("--system", help="A system as id=kind (erp, commerce, psp, ...); repeatable.")
    ] = None,
    template: TemplateOpt = None,
    flow: FlowOpt = None,
    source: Annotated[str | None, typer.Option(help="Source-of-truth system (default: the first).")] = None,
    target: Annotated[str | None, typer.Option(help="Target system (default: the second).")] = None,
    database: DatabaseOpt = None,
    broker: BrokerOpt = None,
    queue: QueueOpt = None,
    connection: ConnectionOpt = None,
    url_env: UrlEnvOpt = None,
    interactive: Interactive = None,
) -> None:
    """Start a model: teams with Slack channels, systems, and a first flow with rules and runbooks."""
    root = directory if directory is not None else model_dir
    ask = _Asker(interactive)
    teams = _pairs(team or [], "id=#channel") or [
        (ask(None, "Team id", "integration"), ask(None, "Its Slack channel", "#integration-alerts"))
    ]
    systems = _pairs(system or [], "id=kind") or [
        (ask(None, "Source system id", "shop"), ask(None, "Its kind", "commerce")),
        (ask(None, "Target system id", "erp"), ask(None, "Its kind", "erp")),
    ]
    owner = teams[0][0]
    chosen = TemplateName(ask(template, "Template", TemplateName.ORDER_EXPORT.value, [t.value for t in TEMPLATES]))
    src = source or systems[0][0]
    dst = target or systems[min(1, len(systems) - 1)][0]
    params = _params(
        ask,
        chosen,
        flow=flow,
        owner=owner,
        source=src,
        target=dst,
        database=database,
        broker=broker,
        queue=queue,
        connection=connection,
        url_env=url_env,
        known_connections=set(),
    )
    try:
        written = init_model(
            root,
            [TeamSpec(t, channel) for t, channel in teams],
            [SystemSpec(s, kind, owner) for s, kind in systems],
            chosen,
            params,
        )
    except ScaffoldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _check(root, written)
    for path in written:
        typer.echo(f"wrote {path}")
    _next_steps(root, params)


@add_app.command("flow")
def add_flow_command(
    template: TemplateOpt = None,
    model_dir: ModelDir = Path("."),
    flow: FlowOpt = None,
    owner: Annotated[str | None, typer.Option(help="Owning team (default: the first team).")] = None,
    source: Annotated[str | None, typer.Option(help="Source-of-truth system (default: the first).")] = None,
    target: Annotated[str | None, typer.Option(help="Target system (default: the second).")] = None,
    database: DatabaseOpt = None,
    broker: BrokerOpt = None,
    queue: QueueOpt = None,
    connection: ConnectionOpt = None,
    url_env: UrlEnvOpt = None,
    interactive: Interactive = None,
) -> None:
    """Add a flow from a template, with its rules and runbooks, to the model."""
    from .common import load_or_exit

    model = load_or_exit(model_dir)
    ask = _Asker(interactive)
    chosen = TemplateName(ask(template, "Template", TemplateName.ORDER_EXPORT.value, [t.value for t in TEMPLATES]))
    systems = list(model.systems)
    if not model.teams or not systems:
        typer.echo("error: the model has no teams or systems yet; start with `flowhealth init`", err=True)
        raise typer.Exit(1)
    params = _params(
        ask,
        chosen,
        flow=flow,
        owner=ask(owner, "Owning team", next(iter(model.teams))),
        source=ask(source, "Source-of-truth system", systems[0]),
        target=ask(target, "Target system", systems[min(1, len(systems) - 1)]),
        database=database,
        broker=broker,
        queue=queue,
        connection=connection,
        url_env=url_env,
        known_connections=set(model.connections),
    )
    if params.flow in model.flows:
        typer.echo(f"error: flow '{params.flow}' exists already; choose another with --flow", err=True)
        raise typer.Exit(1)
    try:
        written = add_flow(model_dir, chosen, params)
    except ScaffoldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _check(model_dir, written)
    for path in written:
        typer.echo(f"wrote {path}")
    _next_steps(model_dir, params)
