"""PromQL in dashboards: substitute Grafana variables, parse with promql-parser, list metric names."""

from __future__ import annotations

import re
from typing import Any

import promql_parser

_LABEL_VALUES = re.compile(r"^label_values\((.*),\s*\w+\)$")


def substitute(expr: str, values: dict[str, str]) -> str:
    """The query Grafana would send, with `$name`/`${name}` replaced (longest names first)."""
    text = _LABEL_VALUES.sub(r"\1", expr.strip())
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return text


def metric_names(expr: str) -> set[str]:
    """Every metric name a (substituted) expression selects; raises ValueError when it does not parse."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if type(node).__name__ == "VectorSelector" and node.name:
            names.add(node.name)
        for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and type(child).__module__.startswith("promql"):
                walk(child)
        for child in getattr(node, "args", None) or []:
            walk(child)

    walk(promql_parser.parse(expr))
    return names
