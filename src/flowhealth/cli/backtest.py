"""`flowhealth backtest`: replay a baseline rule over history before committing it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ..alerting.backtest import Point
from ..model.baseline_rule import BaselineRule
from ..model.durations import parse_duration
from ..model.schema import SignalKind
from ..settings import Settings
from .common import ModelDir, load_or_exit
from .failures import sentence


def backtest(
    rule_id: Annotated[str, typer.Argument(help="The baseline rule to replay.")],
    model_dir: ModelDir = Path("."),
    since: Annotated[str, typer.Option("--since", help="Replay the last ... of the state database, e.g. 28d.")] = "28d",
    samples: Annotated[
        Path | None, typer.Option("--samples", help="CSV with columns timestamp,value (and optional labels).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw series, band and alerts into a PNG.")] = None,
) -> None:
    """When would a baseline rule have fired and resolved, how often, and the longest alert."""
    from ..alerting.backtest import replay
    from ..alerting.backtest_report import SamplesError, plot_replay, read_samples_csv, replay_json, replay_table

    output = "json" if as_json else output
    if output not in ("table", "json"):
        typer.echo("--format must be table or json", err=True)
        raise typer.Exit(2)
    model = load_or_exit(model_dir)
    rule = model.rules.get(rule_id)
    if not isinstance(rule, BaselineRule):
        known = ", ".join(sorted(model.baseline_rules())) or "none defined"
        typer.echo(f"'{rule_id}' is not a baseline rule (baseline rules: {known})", err=True)
        raise typer.Exit(1)
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    try:
        if samples is not None:
            series = read_samples_csv(samples)
            start = None
        else:
            start = datetime.now(UTC) - window
            series = _from_database(rule, start - rule.baseline.history - rule.baseline.resolution)
    except SamplesError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if not series:
        typer.echo(f"no samples of {rule.flow}/{rule.signal} to replay", err=True)
        raise typer.Exit(1)
    calendar = model.calendar_of(rule)
    replays = [
        (labels, replay(rule_id, rule, calendar, points, since=start)) for labels, points in sorted(series.items())
    ]
    flow = model.flows[rule.flow]
    per_sample = _seconds_between(series) if model.signal(rule.flow, rule.signal).kind is SignalKind.THROUGHPUT else 1.0
    render = replay_json if output == "json" else replay_table
    typer.echo(render(replays, flow.average_value, per_sample))
    if plot is not None:
        try:
            plot_replay(replays[0][1], plot)
        except SamplesError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        typer.echo(f"plot written to {plot}", err=True)


def _seconds_between(series: dict[str, list[Point]]) -> float:
    # A throughput is a rate per second: each sample stands for the seconds until the next one.
    points = next(iter(series.values()))
    if len(points) < 2:
        return 0.0
    return (points[-1].at - points[0].at).total_seconds() / (len(points) - 1)


def _from_database(rule: BaselineRule, start: datetime) -> dict[str, list[Point]]:
    from sqlalchemy import select

    from ..errors import FlowHealthError
    from ..store.db import make_engine
    from ..store.migrate import require_current
    from ..store.tables import Sample

    try:
        engine = make_engine(Settings().database_url)
        require_current(engine)
        table = Sample.__table__  # type: ignore[attr-defined]
        query = (
            select(table.c.labels, table.c.observed_at, table.c.value)
            .where(table.c.flow == rule.flow, table.c.signal == rule.signal, table.c.observed_at >= start)
            .where(table.c.value.is_not(None))
            .order_by(table.c.observed_at)
        )
        series: dict[str, list[Point]] = {}
        with engine.connect() as conn:
            for labels, at, value in conn.execute(query):
                at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
                series.setdefault(labels, []).append(Point(at, float(value)))
        return series
    except FlowHealthError as exc:
        typer.echo(f"error: {sentence(exc)}", err=True)
        raise typer.Exit(1) from None
