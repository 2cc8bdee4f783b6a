"""`flowhealth push` and `flowhealth intervention`: values and fixes reported from outside.

Both follow the rule of every write command (cli/remote.py): the state database, or the
running service's API when --url / FLOWHEALTH_URL is given.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import ModelDir, load_or_exit, settings_for
from .remote import ServerUrl, post

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not k=v", param_hint="--label")
        labels[name] = value
    return labels


def _engine(model_dir: Path) -> Engine:
    from ..store.db import make_engine
    from ..store.migrate import require_current

    engine = make_engine(settings_for(model_dir).database_url)
    require_current(engine)
    return engine


def push(
    flow: Annotated[str, typer.Argument(help="Flow of the signal.")],
    signal: Annotated[str, typer.Argument(help="A signal whose probe is `kind: push`.")],
    value: Annotated[float, typer.Argument(help="The measured value, in the signal's unit.")],
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="A label as k=v; repeatable.")] = None,
    url: ServerUrl = None,
    model_dir: ModelDir = Path("."),
) -> None:
    """Report a signal value from the integration itself."""
    labels = _labels(label or [])
    if url:
        post(url, f"/api/v1/flows/{flow}/signals/{signal}", {"value": value, "labels": labels})
    else:
        from ..clock import SystemClock
        from ..model.probes import PushProbe
        from ..store.manual import record_push
        from ..store.samples import Reading

        model = load_or_exit(model_dir)
        spec = model.flows.get(flow, None)
        if spec is None or signal not in spec.signals:
            typer.echo(f"no signal '{signal}' in flow '{flow}'", err=True)
            raise typer.Exit(1)
        if not isinstance(spec.signals[signal].probe, PushProbe):
            typer.echo(f"signal '{flow}/{signal}' is measured by a probe, not pushed", err=True)
            raise typer.Exit(1)
        record_push(_engine(model_dir), flow, signal, Reading(value, labels), SystemClock().now())
    typer.echo(f"{flow}/{signal} = {value:g}")


def intervention(
    flow: Annotated[str, typer.Argument(help="Flow whose record was fixed by hand.")],
    reason: Annotated[str, typer.Option(help="Why, as an identifier: mapping_fix, resend, manual_booking, ...")],
    record: Annotated[str, typer.Option(help="The record touched, e.g. an order number.")],
    actor: Annotated[str | None, typer.Option(help="Who did it (default: your user name).")] = None,
    note: Annotated[str | None, typer.Option(help="Anything the weekly review should know.")] = None,
    url: ServerUrl = None,
    model_dir: ModelDir = Path("."),
) -> None:
    """Record a manual intervention; interventions probes count them per reason."""
    who = actor or getpass.getuser()
    if url:
        body = {"reason": reason, "record": record, "actor": who, "note": note}
        identifier = post(url, f"/api/v1/flows/{flow}/interventions", body).get("id")
    else:
        from ..clock import SystemClock
        from ..model.base import Ident
        from ..store.manual import ManualFix, record_intervention

        model = load_or_exit(model_dir)
        if flow not in model.flows:
            typer.echo(f"no flow '{flow}' (known: {', '.join(sorted(model.flows))})", err=True)
            raise typer.Exit(1)
        from pydantic import TypeAdapter, ValidationError

        try:
            TypeAdapter(Ident).validate_python(reason)
        except ValidationError:
            typer.echo(f"--reason must be an identifier like mapping_fix, not {reason!r}", err=True)
            raise typer.Exit(2) from None
        fix = ManualFix(flow, reason, record, who, note)
        identifier = record_intervention(_engine(model_dir), fix, SystemClock().now())
    typer.echo(f"recorded intervention {identifier} on {flow}: {reason} {record}")
