"""`flowhealth`: validate the model, run the service, run the demo, inspect probes and alerts."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import __version__
from ..errors import FlowHealthError
from . import alerting, alerts_cmd, dashboards, db, export, hypercare, mappings, outbox, routes
from . import evidence as evidence_cmd
from . import init as init_cmd
from . import push as push_cmd
from .backtest import backtest
from .common import (
    JsonOpt,
    ModelDir,
    collector_paused,
    load_or_exit,
    parse_ahead,
    settings_for,
    settle_for_serving,
    use_state,
)
from .failures import GuardedGroup, sentence

if TYPE_CHECKING:
    from ..redaction import SecretFilter

app = typer.Typer(
    help="flowhealth watches the business health of commerce integration flows and alerts their owners.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,  # every command's unhandled error becomes one sentence (cli/failures.py)
)
probe_app = typer.Typer(
    help="Run probes by hand, the way you check a new probe before committing it.",
    no_args_is_help=True,
)
app.add_typer(probe_app, name="probe")
app.add_typer(dashboards.app, name="dashboards")
app.add_typer(export.app, name="export")
app.add_typer(db.app, name="db")
app.add_typer(outbox.app, name="outbox")
app.add_typer(routes.app, name="routes")

_load = load_or_exit

app.command()(alerting.incidents)
app.command()(backtest)
app.command()(alerting.ack)
app.command()(alerting.resolve)
app.add_typer(alerting.silence_app, name="silence")
app.command("init")(init_cmd.init)
app.add_typer(init_cmd.add_app, name="add")


def _logging(verbose: bool) -> SecretFilter:
    from ..redaction import SecretFilter, install  # loads the model package: not at start-up

    # -v is about flowhealth's own work (probe runs, transitions); libraries (the scheduler,
    # broker clients, HTTP) stay at warnings, or their chatter buries it.
    # FLOWHEALTH_LIBRARY_LOG_LEVEL=INFO (or DEBUG) lets them speak when debugging a connection;
    # the secret filter below covers their records as well.
    library_level = os.environ.get("FLOWHEALTH_LIBRARY_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(
        level=library_level if library_level in ("DEBUG", "INFO", "WARNING", "ERROR") else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("flowhealth").setLevel(logging.INFO if verbose else logging.WARNING)
    secrets = SecretFilter()  # learns the values once settings and model are loaded
    install(secrets)
    return secrets


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowhealth {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="State database: a file (SQLite) or a URL; default FLOWHEALTH_DATABASE_URL, "
            "else ~/.local/state/flowhealth/<model>.db.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """flowhealth: business health of commerce integration flows."""
    use_state(state)


@app.command()
def validate(
    legacy_dir: Annotated[
        Path | None, typer.Argument(help="Deprecated: the model directory; use -m.", show_default=False)
    ] = None,
    model_dir: ModelDir = Path("."),
    dev: Annotated[
        bool, typer.Option("--dev", help="Allow literal credentials in local URLs, with a warning (FLOWHEALTH_DEV=1).")
    ] = False,
) -> None:
    """Check flows/, alert_rules/ and runbooks/; list every problem as path:line: field: message."""
    if legacy_dir is not None:
        typer.echo("note: `flowhealth validate DIR` is deprecated; use `flowhealth validate -m DIR`", err=True)
        model_dir = legacy_dir
    # Paused until the model is dropped: the objects built while it was paused are all young, and
    # the first collection after it resumed walked every one of them (~0.08 s at 10,000 rules).
    with collector_paused():
        if dev:
            from unittest import mock

            with mock.patch.dict("os.environ", {"FLOWHEALTH_DEV": "1"}):
                model = _load(model_dir)
        else:
            model = _load(model_dir)
        typer.echo(
            f"ok: {len(model.teams)} teams, {len(model.systems)} systems, {len(model.flows)} flows, "
            f"{sum(len(f.signals) for f in model.flows.values())} signals, {len(model.rules)} rules, "
            f"{len(model.runbooks)} runbooks"
        )
        del model


@app.command()
def schema(
    kind: Annotated[str, typer.Option(help="Which files: flows or rules.")] = "flows",
    model_dir: ModelDir = Path("."),
) -> None:
    """Print the JSON Schema of model files, for editor completion and checks (the same for every model)."""
    del model_dir  # accepted like everywhere else; the schema does not depend on a model
    from pydantic import BaseModel

    from ..model.jsonschema import json_schema
    from ..model.rules_file import RulesFile
    from ..model.schema import FlowsFile

    models: dict[str, type[BaseModel]] = {"flows": FlowsFile, "rules": RulesFile}
    if kind not in models:
        typer.echo(f"--kind must be one of {', '.join(models)}", err=True)
        raise typer.Exit(2)
    document = json_schema(models[kind])
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


@app.command()
def serve(
    model_dir: ModelDir = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every probe run and transition.")] = False,
) -> None:
    """Run the service: HTTP API, /metrics, /healthz, probe scheduler, evaluator, notifications."""
    # Start-up builds objects that live as long as the process (modules, the model, the runtime):
    # with the collector on, the collections their allocations trigger walked them again and
    # again (~0.5 s at 10,000 rules). Frozen below once built; a reload's model is collected as usual.
    with collector_paused():
        # A second core parses the model while this one imports the service (~0.75 s at 10,000 rules).
        ahead = parse_ahead(model_dir)
        import uvicorn

        from ..api.app import create_app
        from ..api.server import server_options
        from ..redaction import process_secrets
        from ..reload import Reloader, reload_on_sighup
        from ..runtime import Runtime
        from ..store.sqlite_guard import hold_sqlite_file

        secrets = _logging(verbose)
        model = _load(model_dir, ahead)
        settings = settings_for(model_dir)
        secrets.add(process_secrets(settings, model, os.environ))
        gc.freeze()
    _wait_for_database(settings.database_url, host, port)
    guard = None
    try:
        guard = hold_sqlite_file(settings.database_url)  # one serve per SQLite file, until this one ends
        with collector_paused():  # ~40,000 metric series seeded at 10,000 signals
            runtime = Runtime.build(settings, model)
        # The model and the runtime live until a reload: later collections need not walk their
        # million objects again (a reload's new model is collected as usual).
        settle_for_serving()
    except FlowHealthError as exc:
        if guard is not None:
            guard.release()
        typer.echo(f"error: {sentence(exc)}", err=True)
        raise typer.Exit(1) from None
    reloader = Reloader(runtime, model_dir)
    reload_on_sighup(reloader)
    try:
        # log_config=None: uvicorn's loggers propagate to the root handler and its secret filter;
        # access lines are a library's chatter, kept at warnings also under -v.
        uvicorn.run(
            create_app(runtime, reloader=reloader),
            host=host,
            port=port,
            log_level="warning",
            log_config=None,
            **server_options(settings),
        )
    finally:
        if guard is not None:
            guard.release()


def _wait_for_database(url: str, host: str, port: int) -> None:
    """Retry the database with backoff, /healthz answering 503 degraded meanwhile."""
    from ..api.waiting import degraded_healthz
    from ..store.wait import database_reachable, wait_for_database

    if database_reachable(url):
        return  # the usual case: no stand-in server, nothing answers before the real API does
    with degraded_healthz(host, port):
        wait_for_database(url)


@app.command()
def demo(
    model_dir: ModelDir = Path("."),
    speed: Annotated[float, typer.Option(help="How much faster simulated time runs than real time.")] = 30.0,
    port: Annotated[int, typer.Option(help="Port for the HTTP API during the demo (0: none).")] = 8000,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Stop after this many real seconds at the latest, also with --keep-running (0: never). [default: 240, 2100 with --prometheus]"
        ),
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Keep going after the incident resolved (until --timeout).")
    ] = False,
    prometheus: Annotated[
        bool,
        typer.Option(
            "--prometheus",
            help="Real speed, and a prometheus.yml with the exported rules, so a local Prometheus fires them too.",
        ),
    ] = False,
    work_dir: Annotated[Path, typer.Option(help="Where the demo keeps its databases (recreated).")] = Path(
        ".flowhealth/demo"
    ),
) -> None:
    """Run the reference deployment against a simulated commerce stack: an ERP outage fires and resolves an alert."""
    from ..demo.prometheus import REAL_SPEED_TIMEOUT
    from ..demo.run import run_demo

    _logging(False)
    _load(model_dir)
    result = run_demo(
        model_dir,
        work_dir,
        speed=speed,
        port=port,
        timeout=timeout if timeout is not None else (REAL_SPEED_TIMEOUT if prometheus else 240.0),
        keep_running=keep_running,
        say=typer.echo,
        prometheus=prometheus,
    )
    if not result.fired or not set(result.fired) <= set(result.resolved):
        typer.echo("the incident did not fire and resolve in time", err=True)
        raise typer.Exit(1)


@probe_app.command("run")
def probe_run(
    flow: Annotated[str, typer.Argument(help="Flow whose probes to run.")],
    signal: Annotated[str | None, typer.Argument(help="Only this signal.")] = None,
    model_dir: ModelDir = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Run the probes of a flow once and print values and outcomes (nothing is stored)."""
    import os

    from prometheus_client import CollectorRegistry

    from ..clock import SystemClock
    from ..metrics import Metrics
    from ..model.durations import format_reading, human_duration
    from ..probes.connections import ConnectionPools
    from ..probes.registry import ProbeContext, is_scheduled
    from ..probes.runner import ProbeRunner
    from ..runtime_parts import model_secrets
    from ..store.db import make_engine

    model = _load(model_dir)
    if flow not in model.flows:
        typer.echo(f"unknown flow '{flow}' (known: {', '.join(sorted(model.flows))})", err=True)
        raise typer.Exit(2)
    signals = [signal] if signal else sorted(model.flows[flow].signals)
    unknown = [s for s in signals if s not in model.flows[flow].signals]
    if unknown:
        typer.echo(
            f"unknown signal '{unknown[0]}' of flow '{flow}' (known: {', '.join(sorted(model.flows[flow].signals))})",
            err=True,
        )
        raise typer.Exit(2)
    runner = ProbeRunner(
        model,
        make_engine("sqlite://"),
        SystemClock(),
        Metrics(CollectorRegistry()),
        ProbeContext(ConnectionPools(model.connections, os.environ), secrets=model_secrets(model, os.environ)),
    )
    failed = False
    report: list[dict[str, object]] = []
    try:
        for name in signals:
            spec = model.flows[flow].signals[name]
            if not is_scheduled(spec.probe):
                source = "derived from spans" if spec.probe.kind == "trace" else "pushed by the integration"
                report.append({"signal": name, "outcome": None, "note": source})
                if not as_json:
                    typer.echo(f"{flow}/{name}: {source}; nothing to run")
                continue
            result = runner.run(flow, name, record=False)
            unit = spec.unit
            failed = failed or result.error is not None
            report.append(
                {
                    "signal": name,
                    "outcome": result.outcome.value,
                    "seconds": round(result.duration, 3),
                    "error": result.error,
                    "unit": unit,
                    "readings": [{"value": r.value, "labels": dict(r.labels)} for r in result.readings],
                }
            )
            if as_json:
                continue
            took = human_duration(result.duration)
            if result.error:
                failed = True
                typer.echo(f"{flow}/{name}: {result.outcome.value} after {took}: {result.error}")
                continue
            typer.echo(f"{flow}/{name}: {result.outcome.value} in {took}")
            for reading in result.readings:
                labels = ", ".join(f"{k}={v}" for k, v in sorted(dict(reading.labels).items()))
                typer.echo(f"  {format_reading(reading.value, unit)}" + (f"  {{{labels}}}" if labels else ""))
            if not result.readings:
                typer.echo("  (no rows)")
    finally:
        runner.close()
    if as_json:
        typer.echo(json.dumps({"flow": flow, "signals": report}, indent=2))
    if failed:
        raise typer.Exit(1)


app.command()(alerts_cmd.alerts)


app.command()(hypercare.readiness)
app.command()(hypercare.review)
app.command()(evidence_cmd.evidence)
app.command("mapping-changes")(mappings.mapping_changes)
app.command("push")(push_cmd.push)
app.command("intervention")(push_cmd.intervention)


def main() -> None:
    try:
        app()
    except FlowHealthError as exc:
        # A schema of another version, a locked state file: one sentence, never a traceback.
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
