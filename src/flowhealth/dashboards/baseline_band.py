"""The expected band of baseline rules, drawn behind the signal on a flow's dashboard."""

from __future__ import annotations

from typing import Any

from .panels import Query

EXPECTED, LOW, HIGH = "expected", "expected band (low)", "expected band (high)"


def band_queries(selector: str) -> list[Query]:
    """Expected value and band; several baseline rules on one signal draw their widest band."""
    return [
        Query(f"avg without (instance, job, alertname) (flowhealth_baseline_expected{{{selector}}})", EXPECTED),
        Query(f"min without (instance, job, alertname) (flowhealth_baseline_lower{{{selector}}})", LOW),
        Query(f"max without (instance, job, alertname) (flowhealth_baseline_upper{{{selector}}})", HIGH),
    ]


def _by_name(name: str, properties: list[dict[str, Any]]) -> dict[str, Any]:
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


def band_overrides() -> list[dict[str, Any]]:
    """A shaded band between low and high, thin grey edges, a dotted expected line."""
    grey = {"id": "color", "value": {"mode": "fixed", "fixedColor": "#8AB8FF"}}
    return [
        _by_name(
            HIGH,
            [
                grey,
                {"id": "custom.fillBelowTo", "value": LOW},
                {"id": "custom.fillOpacity", "value": 20},
                {"id": "custom.lineWidth", "value": 0},
            ],
        ),
        _by_name(LOW, [grey, {"id": "custom.lineWidth", "value": 0}]),
        _by_name(EXPECTED, [grey, {"id": "custom.lineStyle", "value": {"fill": "dot", "dash": [2, 6]}}]),
    ]
