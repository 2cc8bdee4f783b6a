"""`flowhealth export`: the model as Prometheus rule files and Alertmanager configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import ModelDir, collector_paused, load_or_exit, settings_for

app = typer.Typer(help="Export the model for Prometheus and Alertmanager.", no_args_is_help=True)

Check = Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 listing the files that differ from the model.")
]


def _sync(files: dict[str, str], out: Path, check: bool, what: str, command: str) -> None:
    from ..export.files import differing, write_files

    if check:
        problems = differing(files, out)
        for name in problems:
            typer.echo(f"{out / name}: differs from the model", err=True)
        if problems:
            typer.echo(f"run `flowhealth {command}` and commit the result", err=True)
            raise typer.Exit(1)
        typer.echo(f"ok: {what} in {out} match the model")
        return
    changed = write_files(files, out)
    typer.echo(f"{what} in {out}: {len(changed)} written")


@app.command("prometheus-rules")
def prometheus_rules(
    model_dir: ModelDir = Path("."),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Directory for the rule files and tests (default: deploy/prometheus/rules/ in the model).",
        ),
    ] = None,
    check: Check = False,
) -> None:
    """Write alert and recording rules (*.rules.yml) and their `promtool test rules` file."""
    from ..export import ExportLinks, prometheus_files

    # Paused for the whole command: what is built while paused is young, and the first collection
    # after resuming walked all of it (the model, then the generated documents).
    with collector_paused():
        model = load_or_exit(model_dir)
        out = out if out is not None else model_dir / "deploy/prometheus/rules"
        settings = settings_for(model_dir)
        links = ExportLinks(
            public_url=settings.public_url, grafana_url=settings.grafana_url, runbook_base_url=settings.runbook_base_url
        )
        files = prometheus_files(model, links)
        del model
        _sync(files, out, check, "rule files", "export prometheus-rules")


@app.command("alertmanager")
def alertmanager(
    model_dir: ModelDir = Path("."),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The alertmanager.yml to write (default: deploy/alertmanager/ in the model)."),
    ] = None,
    token_file: Annotated[
        str, typer.Option(help="Path of the Slack bot token file inside the Alertmanager container.")
    ] = "/run/secrets/slack_bot_token",
    to_flowhealth: Annotated[
        str | None,
        typer.Option(
            help="flowhealth's URL: receivers post to its /api/v1/alertmanager (token file: its API token).",
        ),
    ] = None,
    check: Check = False,
) -> None:
    """Write alertmanager.yml: Slack receiver per team, grouping by flow, inhibition, maintenance windows."""
    from ..export import alertmanager_file

    model = load_or_exit(model_dir)
    out = out if out is not None else model_dir / "deploy/alertmanager/alertmanager.yml"
    _sync(
        {out.name: alertmanager_file(model, token_file, to_flowhealth)},
        out.parent,
        check,
        "alertmanager config",
        "export alertmanager",
    )
