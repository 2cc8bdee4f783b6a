"""The OpenAPI document says what the loaded model allows, where a static schema cannot.

A silence's matchers must name a flow, system, team, rule or severity that exists. Those names
come from the model, so the document is completed per app: `matchers` becomes an object of at
least one of those keys, each an `enum` of the model's names. Clients see exactly what is
accepted, and schemathesis' positive-data check can hold the API to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..model.model import Model

SEVERITIES = ("critical", "warning", "info")


def matchers_schema(model: Model) -> dict[str, Any]:
    names = {
        "flow": sorted(model.flows),
        "system": sorted(model.systems),
        "team": sorted(model.teams),
        "rule": sorted(model.all_rules()),
        "severity": list(SEVERITIES),
    }
    return {
        "type": "object",
        "description": "At least one of flow, system, team, rule, severity; each a name from the model.",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {key: {"type": "string", "enum": values} for key, values in names.items() if values},
    }


def install(app: FastAPI, model: Model) -> None:
    """Complete the app's OpenAPI document with the model's names (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            silence = document.get("components", {}).get("schemas", {}).get("SilenceRequest")
            if silence is not None:
                silence["properties"]["matchers"] = matchers_schema(model)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
