"""The web pages: a flow, an incident, the silences; public read-only or behind FLOWHEALTH_BOARD_TOKEN."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from ..hypercare.report_html import render_html
from ..hypercare.review import build_review
from ..model.durations import Duration
from ..web.flow_page import flow_page
from ..web.incident_page import incident_page
from ..web.runbook_html import runbook_html
from ..web.templates import environment
from .access import gate
from .deps import RuntimeDep, runtime_bands
from .runbook_text import runbook_text

router = APIRouter(tags=["pages"], include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}
MAX_RANGE = timedelta(days=31)


def _page(template: str, **context: object) -> HTMLResponse:
    return HTMLResponse(environment().get_template(template).render(**context), headers=NO_STORE)


@router.get("/flows/{flow_id}", response_class=HTMLResponse)
def flow(
    flow_id: str,
    request: Request,
    runtime: RuntimeDep,
    range: Annotated[Duration, Query(description="How far back the charts go, e.g. 6h, 24h, 7d.")] = timedelta(
        hours=24
    ),
) -> Response:
    if (denied := gate(request, runtime)) is not None:
        return denied
    if flow_id not in runtime.model.flows:
        raise HTTPException(404, f"no flow '{flow_id}'")
    if not timedelta(minutes=5) <= range <= MAX_RANGE:
        raise HTTPException(422, "range must be between 5m and 31d")
    now = runtime.clock.now()
    page = flow_page(
        runtime.model, runtime.engine, runtime.incidents.links, flow_id, now - range, now, runtime_bands(runtime)
    )
    return _page("flow.html", p=page)


@router.get("/incidents/{number}", response_class=HTMLResponse)
def incident(number: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, runtime: RuntimeDep) -> Response:
    if (denied := gate(request, runtime)) is not None:
        return denied
    with Session(runtime.engine) as session:
        page = incident_page(runtime.model, session, number, runtime.clock.now())
    if page is None:
        raise HTTPException(404, f"no incident {number}")
    books = {rb: runbook_html(text) for rb in page.runbooks if (text := runbook_text(runtime.model, rb)) is not None}
    return _page("incident.html", p=page, runbooks=books)


@router.get("/silences", response_class=HTMLResponse)
def silences(request: Request, runtime: RuntimeDep) -> Response:
    if (denied := gate(request, runtime)) is not None:
        return denied
    model = runtime.model
    keys = {
        "flow": sorted(model.flows),
        "system": sorted(model.systems),
        "team": sorted(model.teams),
        "rule": sorted(model.all_rules()),
        "severity": ["critical", "warning", "info"],
    }
    rows = runtime.actions.list_silences(include_expired=True)
    now = runtime.clock.now()
    return _page("silences.html", silences=sorted(rows, key=lambda s: -(s.id or 0)), keys=keys, now=now)


@router.get("/review", response_class=HTMLResponse)
def review(
    request: Request,
    runtime: RuntimeDep,
    since: Annotated[Duration, Query(description="Length of the period ending now, e.g. 24h, 7d.")] = timedelta(days=7),
) -> Response:
    """The hypercare review of the period ending now, the page `flowhealth review --out` writes."""
    if (denied := gate(request, runtime)) is not None:
        return denied
    if not timedelta(hours=1) <= since <= MAX_RANGE:
        raise HTTPException(422, "since must be between 1h and 31d")
    result = build_review(runtime.model, runtime.engine, runtime.clock.now(), since)
    return HTMLResponse(render_html(result), headers=NO_STORE)
