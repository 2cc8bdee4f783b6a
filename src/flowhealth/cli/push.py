"""`flowhealth push` and `flowhealth intervention`: write to a running flowhealth over its API."""

from __future__ import annotations

import getpass
import os
from typing import Annotated, Any

import httpx
import typer

ServerUrl = Annotated[
    str,
    typer.Option("--url", envvar="FLOWHEALTH_URL", help="Base URL of the running flowhealth service."),
]


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    token = os.environ.get("FLOWHEALTH_API_TOKEN", "")
    if not token:
        typer.echo("FLOWHEALTH_API_TOKEN is not set; write endpoints need it", err=True)
        raise typer.Exit(2)
    try:
        response = httpx.post(
            url.rstrip("/") + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach {url}: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        typer.echo(f"refused (HTTP {response.status_code}): {detail}", err=True)
        raise typer.Exit(1)
    answer: dict[str, Any] = response.json()
    return answer


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not k=v", param_hint="--label")
        labels[name] = value
    return labels


def push(
    flow: Annotated[str, typer.Argument(help="Flow of the signal.")],
    signal: Annotated[str, typer.Argument(help="A signal whose probe is `kind: push`.")],
    value: Annotated[float, typer.Argument(help="The measured value, in the signal's unit.")],
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="A label as k=v; repeatable.")] = None,
    url: ServerUrl = "http://127.0.0.1:8000",
) -> None:
    """Report a signal value from the integration itself (needs FLOWHEALTH_API_TOKEN)."""
    _post(url, f"/api/v1/flows/{flow}/signals/{signal}", {"value": value, "labels": _labels(label or [])})
    typer.echo(f"{flow}/{signal} = {value:g}")


def intervention(
    flow: Annotated[str, typer.Argument(help="Flow whose record was fixed by hand.")],
    reason: Annotated[str, typer.Option(help="Why, as an identifier: mapping_fix, resend, manual_booking, ...")],
    record: Annotated[str, typer.Option(help="The record touched, e.g. an order number.")],
    actor: Annotated[str | None, typer.Option(help="Who did it (default: your user name).")] = None,
    note: Annotated[str | None, typer.Option(help="Anything the weekly review should know.")] = None,
    url: ServerUrl = "http://127.0.0.1:8000",
) -> None:
    """Record a manual intervention; interventions probes count them per reason."""
    body = {"reason": reason, "record": record, "actor": actor or getpass.getuser(), "note": note}
    answer = _post(url, f"/api/v1/flows/{flow}/interventions", body)
    typer.echo(f"recorded intervention {answer.get('id')} on {flow}: {reason} {record}")
