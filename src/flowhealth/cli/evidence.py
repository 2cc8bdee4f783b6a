"""`flowhealth evidence`: the evidence pack of a flow (or every critical flow) as Markdown and HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from .common import ModelDir, load_or_exit


@dataclass(frozen=True)
class Written:
    flow: str
    markdown: Path
    html: Path


def evidence(
    flow: Annotated[str | None, typer.Argument(help="The flow whose evidence pack to write.")] = None,
    all_critical: Annotated[bool, typer.Option("--all", help="Every critical flow.")] = False,
    out: Annotated[Path, typer.Option(help="Directory for evidence-FLOW.md and .html.")] = Path("evidence"),
    model_dir: ModelDir = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="List the written files as JSON.")] = False,
) -> None:
    """Write the evidence pack a go-live review signs off: owners, contract, identifiers, alerts, runbooks, reconciliation, operations, readiness, incidents."""
    from ..evidence_pack.html import render_html
    from ..evidence_pack.markdown import render_markdown
    from ..evidence_pack.pack import build_pack
    from ..links import Links
    from ..settings import Settings
    from ..store.db import init_schema, make_engine

    model = load_or_exit(model_dir)
    if all_critical == (flow is not None):
        typer.echo("error: name one FLOW or give --all", err=True)
        raise typer.Exit(2)
    if flow is not None and flow not in model.flows:
        typer.echo(f"error: unknown flow '{flow}' (known: {', '.join(sorted(model.flows))})", err=True)
        raise typer.Exit(2)
    flows = [flow] if flow else sorted(f for f, spec in model.flows.items() if spec.criticality == "critical")
    settings = Settings()
    engine = make_engine(settings.database_url)
    init_schema(engine)
    links = Links(settings.public_url, settings.grafana_url, settings.runbook_base_url)
    now = datetime.now(UTC)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"error: cannot create {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    written = []
    for flow_id in flows:
        pack = build_pack(model, engine, links, flow_id, now)
        md, page = out / f"evidence-{flow_id}.md", out / f"evidence-{flow_id}.html"
        md.write_text(render_markdown(pack), encoding="utf-8")
        page.write_text(render_html(pack), encoding="utf-8")
        written.append(Written(flow_id, md, page))
    if as_json:
        typer.echo(
            json.dumps([{"flow": w.flow, "markdown": str(w.markdown), "html": str(w.html)} for w in written], indent=2)
        )
        return
    for w in written:
        typer.echo(f"wrote {w.markdown} and {w.html}")
