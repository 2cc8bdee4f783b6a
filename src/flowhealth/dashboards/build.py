"""Turn grafanalib dashboards into modern, deterministic Grafana JSON files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grafanalib.core as G
from grafanalib._gen import DashboardEncoder

from ..export.files import render_json
from ..model.model import Model
from .flow_detail import flow_detail
from .overview import overview

# Grafana 10.4/11 write 39; grafanalib still says 12, which makes Grafana migrate on every load.
SCHEMA_VERSION = 39

# Keys grafanalib emits for Grafana's pre-7 panel model; modern Grafana ignores or migrates them.
_LEGACY_DASHBOARD = {"rows", "style", "hideControls", "sharedCrosshair", "gnetId", "__inputs", "id"}
_LEGACY_PANEL = {"span", "height", "minSpan", "error", "cacheTimeout", "editable", "columns", "fontSize", "styles"}
_LEGACY_TARGET = {"metric", "query", "step", "intervalFactor", "target"}
_LEGACY_VARIABLE = {"auto", "auto_count", "auto_min", "tagValuesQuery", "tagsQuery", "useTags"}


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def _steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"color": s["color"], "value": None if i == 0 else s["value"]} for i, s in enumerate(steps)]


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    for key in _LEGACY_PANEL:
        panel.pop(key, None)
    defaults = panel.setdefault("fieldConfig", {}).setdefault("defaults", {})
    if panel["type"] == "table":
        panel.pop("color", None)
        defaults["mappings"] = panel.pop("mappings", [])
    thresholds = defaults.get("thresholds")
    if isinstance(thresholds, dict):
        steps = thresholds.get("steps") or [{"color": "green", "value": None}]
        thresholds["steps"] = _steps(steps)
    panel.setdefault("fieldConfig", {}).setdefault("overrides", [])
    if panel["type"] in ("text", "row"):
        panel.pop("datasource", None)
        panel.pop("targets", None)
    for target in panel.get("targets", []):
        for key in _LEGACY_TARGET:
            target.pop(key, None)
        target["editorMode"] = "code"
        target["range"] = not target["instant"]
    panel["panels"] = [_panel(p) for p in panel.get("panels", [])] if panel["type"] == "row" else panel.get("panels")
    return panel


def modern_json(dashboard: G.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana 10/11 would save it."""
    data: dict[str, Any] = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    for key in _LEGACY_DASHBOARD:
        data.pop(key, None)
    data["schemaVersion"] = SCHEMA_VERSION
    data["panels"] = [_panel(p) for p in data["panels"]]
    for variable in data["templating"]["list"]:
        for key in _LEGACY_VARIABLE:
            variable.pop(key, None)
        if variable["type"] == "query":
            variable["definition"] = variable["query"]
        if variable.get("multi") and variable["current"].get("value") == "$__all":
            variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    data["timepicker"] = {}
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    data["annotations"]["list"] = [builtin, *data["annotations"]["list"]]
    result: dict[str, Any] = _strip_none(data)
    return result


def build_dashboards(model: Model, runbook_url: Callable[[str], str]) -> dict[str, str]:
    """Every dashboard of the model as `{file name: JSON text}`; the file is named after the uid."""
    dashboards = [overview(model), *(flow_detail(model, f, runbook_url) for f in sorted(model.flows))]
    return {f"{d.uid}.json": render_json(modern_json(d)) for d in dashboards}
