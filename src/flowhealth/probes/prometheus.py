"""The prometheus probe: an instant PromQL query, for signals a team already has in Prometheus."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..errors import ProbeError, ProbeInvalid
from ..store.samples import Reading
from .base import as_number
from .http import JsonEndpoint


class PrometheusProbe:
    """`GET /api/v1/query`; one sample per returned series."""

    kind = "prometheus"

    def __init__(self, endpoint: JsonEndpoint, query: str, label_columns: Sequence[str]) -> None:
        self._endpoint = endpoint
        self._query = query
        self._labels = list(label_columns)

    def run(self, now: datetime) -> list[Reading]:
        # Prometheus evaluates at its own "now": our clock may be simulated (demo) or skewed.
        answer = self._endpoint.fetch(params={"query": self._query})
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error", "no status") if isinstance(answer, dict) else "not an object"
            raise ProbeError(f"Prometheus refused the query: {str(error)[:200]}")
        data: dict[str, Any] = answer.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return [Reading(as_number(result[1], what="the scalar"))]
        if kind != "vector" or not isinstance(result, list):
            raise ProbeInvalid(f"the query returned a {kind}, not an instant vector or scalar")
        if not self._labels:
            if len(result) != 1:
                raise ProbeInvalid(f"expected one series, the query returned {len(result)} (set label_columns)")
            return [Reading(as_number(result[0]["value"][1], what="the value"))]
        readings = []
        for series in result:
            metric: dict[str, str] = series.get("metric", {})
            labels = {name: metric.get(name, "") for name in self._labels}
            readings.append(Reading(as_number(series["value"][1], what=f"the value for {labels}"), labels))
        return readings

    def close(self) -> None:
        """The client belongs to the shared clients, which close it."""
