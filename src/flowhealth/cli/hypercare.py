"""`flowhealth readiness` and `flowhealth review`: the hypercare checklist and the weekly review."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import DeliveryError
from .common import JsonOpt, ModelDir, load_or_exit, settings_for


class ReviewFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
    PDF = "pdf"


def readiness(
    model_dir: ModelDir = Path("."),
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    as_json: JsonOpt = False,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Also check the state database (probes succeeding).")
    ] = True,
) -> None:
    """The go-live readiness checklist per flow; exits 1 when a critical flow fails a check."""
    from ..hypercare.readiness import blocking, check_readiness
    from ..hypercare.readiness_text import readiness_json, readiness_table
    from ..store.db import make_engine
    from ..store.migrate import require_current

    output = "json" if as_json else output
    if output not in ("table", "json"):
        typer.echo("--format must be table or json", err=True)
        raise typer.Exit(2)
    model = load_or_exit(model_dir)
    engine = None
    if store:
        engine = make_engine(settings_for(model_dir).database_url)
        require_current(engine)
    results = check_readiness(model, engine)
    typer.echo(readiness_json(results) if output == "json" else readiness_table(results))
    if blocking(results):
        raise typer.Exit(1)


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def review(
    model_dir: ModelDir = Path("."),
    since: Annotated[str, typer.Option(help="Length of the period, ending now (e.g. 7d, 24h).")] = "7d",
    until: Annotated[str | None, typer.Option(help="End of the period (ISO 8601, UTC); default now.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write Markdown and HTML reports into this directory.")] = None,
    format: Annotated[
        ReviewFormat, typer.Option("--format", help="markdown or html to stdout; pdf (with --out) also prints A4.")
    ] = ReviewFormat.MARKDOWN,
    post: Annotated[
        str | None, typer.Option(help="Post a summary with the HTML page attached to this Slack channel.")
    ] = None,
) -> None:
    """The hypercare review of a period against the one before: incidents, recovery, fixes, noise, ownership."""
    from ..hypercare.pdf import PdfUnavailable
    from ..hypercare.publish import post_review, write_reports
    from ..hypercare.report_html import render_html
    from ..hypercare.report_md import render_markdown
    from ..hypercare.review import build_review
    from ..model.durations import parse_duration
    from ..notify.slack import SlackNotifier
    from ..store.db import make_engine
    from ..store.migrate import require_current

    try:
        length, end = parse_duration(since), _moment(until)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    model = load_or_exit(model_dir)
    settings = settings_for(model_dir)
    engine = make_engine(settings.database_url)
    require_current(engine)
    result = build_review(model, engine, end, length)
    if out is None and format is ReviewFormat.PDF:
        typer.echo("error: --format pdf writes a file: give --out DIRECTORY", err=True)
        raise typer.Exit(2)
    if out is None:
        typer.echo(render_html(result) if format is ReviewFormat.HTML else render_markdown(result))
    else:
        try:
            written = write_reports(result, out, pdf=format is ReviewFormat.PDF)
        except PdfUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"wrote {written.markdown} and {written.html}" + (f" and {written.pdf}" if written.pdf else ""))
    if post is not None:
        slack = SlackNotifier.from_settings(settings)
        if slack is None:
            typer.echo("error: --post needs SLACK_BOT_TOKEN", err=True)
            raise typer.Exit(1)
        try:
            file_id = post_review(slack, post, result)
        except DeliveryError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"posted to {post} (file {file_id})")
