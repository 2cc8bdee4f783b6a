"""`flowhealth dashboards`: generate the Grafana dashboards from the model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import ModelDir, load_or_exit, settings_for

app = typer.Typer(help="Grafana dashboards generated from the model.", no_args_is_help=True)


@app.command("build")
def build(
    model_dir: ModelDir = Path("."),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory for the dashboard JSON files (default: dashboards/ in the model)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 listing the files that differ from the model.")
    ] = False,
    public_url: Annotated[
        str | None, typer.Option(help="Where people reach flowhealth (runbook links); default FLOWHEALTH_PUBLIC_URL.")
    ] = None,
) -> None:
    """Write dashboards/*.json: the hypercare overview and one dashboard per flow."""
    from ..dashboards import build_dashboards
    from ..export.files import differing, stale_files, write_files

    model = load_or_exit(model_dir)
    out = out if out is not None else model_dir / "dashboards"
    settings = settings_for(model_dir) if public_url is None else settings_for(model_dir, public_url=public_url)
    files = build_dashboards(model, settings.runbook_url)
    stale = stale_files(files, out, "flowhealth-*.json")
    if check:
        problems = differing(files, out) + stale
        for name in problems:
            typer.echo(
                f"{out / name}: {'not generated any more' if name in stale else 'differs from the model'}", err=True
            )
        if problems:
            typer.echo("run `flowhealth dashboards build` and commit the result", err=True)
            raise typer.Exit(1)
        typer.echo(f"ok: {len(files)} dashboards in {out} match the model")
        return
    changed = write_files(files, out)
    for name in stale:
        (out / name).unlink()
    typer.echo(f"{len(files)} dashboards in {out}: {len(changed)} written, {len(stale)} removed")
