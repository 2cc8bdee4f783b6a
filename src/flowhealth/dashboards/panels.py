"""Panel building blocks on top of grafanalib: stable ids, a grid, the datasource variable, units."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import grafanalib.core as G

from ..export.recording import STATUS_BREACH, STATUS_OK, STATUS_PENDING, STATUS_UNKNOWN
from ..model.schema import SignalKind

DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24

# Grafana units per signal kind; counts are plain numbers.
KIND_UNITS: dict[SignalKind, str] = {SignalKind.DELAY: "s", SignalKind.STALENESS: "s", SignalKind.RATIO: "percentunit"}

STATUS_MAPPINGS: list[dict[str, Any]] = [
    {
        "type": "value",
        "options": {
            str(STATUS_OK): {"text": "OK", "color": "green", "index": 0},
            str(STATUS_UNKNOWN): {"text": "unknown", "color": "blue", "index": 1},
            str(STATUS_PENDING): {"text": "pending", "color": "yellow", "index": 2},
            str(STATUS_BREACH): {"text": "in breach", "color": "red", "index": 3},
        },
    }
]


def kind_unit(kind: SignalKind) -> str:
    return KIND_UNITS.get(kind, "none")


def kind_title(kind: SignalKind) -> str:
    return kind.value.replace("_", " ").capitalize()


def panel_id(key: str) -> int:
    """An id derived from the panel's key, so adding a panel never renumbers the others."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:7], 16) + 1


def thresholds(*steps: tuple[float | None, str]) -> list[G.Threshold]:
    return [G.Threshold(color, index, float(value or 0.0)) for index, (value, color) in enumerate(steps)]


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def targets(queries: list[Query]) -> list[G.Target]:
    return [
        G.Target(
            expr=q.expr,
            legendFormat=q.legend or "__auto",
            refId=chr(ord("A") + index),
            instant=q.instant,
            format="table" if q.table else "time_series",
            datasource=DATASOURCE,
        )
        for index, q in enumerate(queries)
    ]


@dataclass
class Grid:
    """Places panels left to right in 24 columns, wrapping to a new row when one does not fit."""

    panels: list[Any] = field(default_factory=list)
    x: int = 0
    y: int = 0
    row_height: int = 0

    def add(self, panel: Any, w: int, h: int) -> None:
        if self.x + w > GRID_COLUMNS:
            self.newline()
        panel.gridPos = G.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def newline(self) -> None:
        if self.x:
            self.y += self.row_height
        self.x, self.row_height = 0, 0

    def row(self, key: str, title: str) -> None:
        """A collapsible section header, always full width on its own line."""
        self.newline()
        self.add(G.RowPanel(title=title, id=panel_id(key)), GRID_COLUMNS, 1)
        self.newline()


def stat(
    key: str,
    title: str,
    description: str,
    queries: list[Query],
    *,
    unit: str = "none",
    steps: list[G.Threshold] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    no_value: str = "0",
) -> G.Stat:
    return G.Stat(
        id=panel_id(key),
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=targets(queries),
        format=unit,
        reduceCalc="lastNotNull",
        colorMode="background",
        graphMode="area",
        noValue=no_value,
        thresholds=steps or thresholds((None, "green")),
        mappings=mappings or [],
    )


def timeseries(
    key: str,
    title: str,
    description: str,
    queries: list[Query],
    *,
    unit: str = "none",
    overrides: list[dict[str, Any]] | None = None,
    links: list[dict[str, Any]] | None = None,
) -> G.TimeSeries:
    return G.TimeSeries(
        id=panel_id(key),
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=targets(queries),
        unit=unit,
        legendDisplayMode="table",
        legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi",
        overrides=overrides or [],
        links=links or [],
    )


def threshold_line_override(ref_id: str) -> dict[str, Any]:
    """Threshold series drawn as red dashed lines, so a reader sees the value cross them."""
    return {
        "matcher": {"id": "byFrameRefID", "options": ref_id},
        "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
            {"id": "custom.fillOpacity", "value": 0},
        ],
    }


def state_timeline(key: str, title: str, description: str, queries: list[Query]) -> G.StateTimeline:
    return G.StateTimeline(
        id=panel_id(key),
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=targets(queries),
        mappings=STATUS_MAPPINGS,
        thresholds=thresholds((None, "green")),
        showValue="never",
    )


def text(key: str, title: str, description: str, content: str) -> G.Text:
    return G.Text(id=panel_id(key), title=title, description=description, content=content, mode="markdown")


def alert_annotation(selector: str) -> dict[str, Any]:
    """Firing alerts as annotations on every time panel of the dashboard."""
    return {
        "datasource": DATASOURCE,
        "enable": True,
        "expr": f'flowhealth_alerts{{alertstate="firing", {selector}}}',
        "iconColor": "red",
        "name": "Firing alerts",
        "step": "1m",
        "tagKeys": "flow,severity,team",
        "textFormat": "{{severity}} alert routed to {{team}}",
        "titleFormat": "{{alertname}}",
        "useValueForTime": False,
    }
