"""The one rule of every write command: the state database, or the running service's API.

Without `--url` (FLOWHEALTH_URL) a write command (ack, resolve, silence, push, intervention)
writes the state database directly, as the service itself does; the service picks the change
up on its next pass. With it, the command goes through that service's API with
FLOWHEALTH_API_TOKEN, for machines that cannot reach the database.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="FLOWHEALTH_URL",
        help="Go through this running flowhealth's API (needs FLOWHEALTH_API_TOKEN) instead of the state database.",
        show_default=False,
    ),
]


def post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the service's API with the bearer token; one-sentence errors, exit 1 (2 without a token)."""
    import httpx  # only commands that go through the API pay for it (0.1 s at start-up)

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
