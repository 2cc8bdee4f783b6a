"""Read-only views of the model and its current state: flows, alerts, runbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse
from sqlmodel import Session, select

from ..model.model import PROBE_FAILING
from ..store.tables import AlertState, ProbeState, SignalValue
from ..store.trend import queue_trends
from ..store.types import labels_of
from .deps import ClockDep, EngineDep, ModelDep
from .errors import answers
from .schemas import Alert, Flow

router = APIRouter(tags=["flows"])
MARKDOWN = "text/markdown"


class MarkdownResponse(PlainTextResponse):
    media_type = MARKDOWN


BUILTIN_RUNBOOKS = Path(__file__).resolve().parent.parent / "alerting" / "runbooks"


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
        }
        for s in states
    ]


@router.get(
    "/runbooks/{runbook_id}",
    response_class=MarkdownResponse,
    summary="A runbook's Markdown",
    responses={200: {"content": {MARKDOWN: {"schema": {"type": "string"}}}}, **answers(404)},
)
def runbook(runbook_id: str, model: ModelDep) -> MarkdownResponse:
    book = model.runbooks.get(runbook_id)
    if book is not None:
        return MarkdownResponse(book.text)
    builtin = BUILTIN_RUNBOOKS / f"{runbook_id}.md"
    if runbook_id == PROBE_FAILING and builtin.is_file():
        return MarkdownResponse(builtin.read_text(encoding="utf-8"))
    raise HTTPException(404, f"no runbook '{runbook_id}'")
