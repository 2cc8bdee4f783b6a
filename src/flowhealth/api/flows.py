"""Read-only views of the model and its current state: flows, alerts, runbooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlmodel import Session, select

from ..alerting.baseline_live import alert_expectations
from ..hypercare.board import board_data
from ..store.tables import AlertState, ProbeState, SignalValue
from ..store.trend import queue_trends
from ..store.types import labels_of
from ..web.runbook_html import runbook_html
from ..web.templates import environment
from .access import gate
from .deps import ClockDep, EngineDep, ModelDep, RuntimeDep
from .errors import answers
from .runbook_text import runbook_text
from .schemas import Alert, Flow

router = APIRouter(tags=["flows"])
MARKDOWN = "text/markdown"


class MarkdownResponse(PlainTextResponse):
    media_type = MARKDOWN


@router.get(
    "/api/v1/flows",
    summary="Every flow with its owner, signals and their current values",
    response_model=list[Flow],
    response_model_exclude_unset=True,  # `trend` only for depth signals
)
def list_flows(clock: ClockDep, engine: EngineDep, model: ModelDep) -> list[dict[str, Any]]:
    with Session(engine) as session:
        values = session.exec(select(SignalValue)).all()
        probes = {(p.flow, p.signal): p for p in session.exec(select(ProbeState)).all()}
        trends = queue_trends(session, model, clock.now())
    out = []
    for flow_id, flow in sorted(model.flows.items()):
        signals = []
        for signal_id, signal in sorted(flow.signals.items()):
            series = [
                {
                    "labels": labels_of(v.labels),
                    "value": v.value,
                    "observed_at": v.observed_at.isoformat(),
                    **(
                        {"trend": trends[(flow_id, signal_id, v.labels)]}
                        if (flow_id, signal_id, v.labels) in trends
                        else {}
                    ),
                }
                for v in values
                if v.flow == flow_id and v.signal == signal_id
            ]
            probe = probes.get((flow_id, signal_id))
            signals.append(
                {
                    "signal": signal_id,
                    "kind": signal.kind.value,
                    "unit": signal.unit,
                    "probe": signal.probe.kind,
                    "probe_outcome": probe.last_outcome if probe else None,
                    "series": series,
                }
            )
        out.append(
            {
                "flow": flow_id,
                "object": flow.object,
                "owner": flow.owner,
                "latency_class": flow.latency_class.value,
                "criticality": flow.criticality,
                "signals": signals,
            }
        )
    return out


@router.get("/api/v1/alerts", summary="Alerts that are pending or firing", response_model=list[Alert])
def list_alerts(engine: EngineDep, model: ModelDep) -> list[dict[str, Any]]:
    with Session(engine) as session:
        states = session.exec(select(AlertState).where(AlertState.state != "inactive")).all()
        expected = alert_expectations(session, model, list(states))
    return [
        {
            "rule": s.rule,
            "labels": labels_of(s.labels),
            "flow": model.all_rules()[s.rule].flow if s.rule in model.all_rules() else None,
            "state": s.state,
            "owner": s.owner,
            "value": s.last_value,
            "pending_since": s.pending_since.isoformat() if s.pending_since else None,
            "firing_since": s.firing_since.isoformat() if s.firing_since else None,
            "incident": s.incident_id,  # the number the CLI, Slack and the board show
            "firings": s.incident,
            "expected": expected.get((s.rule, s.labels)),
        }
        for s in states
    ]


@router.get(
    "/runbooks/{runbook_id}",
    response_class=HTMLResponse,
    summary="A runbook: HTML with the live status of its flows on top; Markdown with format=markdown",
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}, MARKDOWN: {"schema": {"type": "string"}}}},
        **answers(404),
    },
)
def runbook(
    runbook_id: str,
    request: Request,
    runtime: RuntimeDep,
    format: Annotated[Literal["html", "markdown"] | None, Query(description="markdown: the source file.")] = None,
) -> Response:
    if (denied := gate(request, runtime)) is not None:
        return denied
    text = runbook_text(runtime.model, runbook_id)
    if text is None:
        raise HTTPException(404, f"no runbook '{runbook_id}'")
    accept = request.headers.get("accept", "")
    if format == "markdown" or (format is None and MARKDOWN in accept and "text/html" not in accept):
        return MarkdownResponse(text)
    return HTMLResponse(runbook_page(runtime, runbook_id, text), headers={"Cache-Control": "no-store"})


def runbook_page(runtime: RuntimeDep, runbook_id: str, text: str) -> str:
    """The runbook rendered, with every flow whose rules point at it and how that flow is doing now."""
    model = runtime.model
    now = runtime.clock.now()
    flows = {r.flow for r in model.all_rules().values() if r.runbook == runbook_id}
    board = board_data(model, runtime.engine, now, runtime.incidents.links)
    live = [f for f in board["flows"] if f["flow"] in flows]
    return (
        environment()
        .get_template("runbook.html")
        .render(runbook_id=runbook_id, body=runbook_html(text), flows=live, now=now)
    )
