"""Structural checks of generated dashboard JSON: ids, layout, variables, links, expressions.

Each check returns a list of problems (empty when fine), so tests show all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .panels import GRID_COLUMNS

_VARIABLE = re.compile(r"\$\{?(\w+)")
_DASHBOARD_URL = re.compile(r"/d/([^/?]+)")
# Grafana's own variables, always defined.
BUILTIN_VARIABLES = frozenset({"__range", "__rate_interval", "__interval", "__data", "__value", "__url_time_range"})


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels") or []


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every query: panel targets, annotations, query variables."""
    found = [(f"panel {p['title']!r} {t['refId']}", t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]
    found += [(f"annotation {a['name']!r}", a["expr"]) for a in dashboard["annotations"]["list"] if "expr" in a]
    found += [(f"variable {v['name']!r}", v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return found


def check_ids(dashboard: dict[str, Any]) -> list[str]:
    ids = [p["id"] for p in panels(dashboard) if isinstance(p.get("id"), int)]
    problems = [
        f"panel {p.get('title')!r} has no integer id" for p in panels(dashboard) if not isinstance(p.get("id"), int)
    ]
    problems += [f"panel id {i} is used more than once" for i in sorted({i for i in ids if ids.count(i) > 1})]
    return problems


def check_layout(dashboard: dict[str, Any]) -> list[str]:
    """Panels inside 24 columns, none overlapping another."""
    problems: list[str] = []
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard.get("panels", []):
        pos = panel["gridPos"]
        if pos["x"] < 0 or pos["w"] < 1 or pos["x"] + pos["w"] > GRID_COLUMNS or pos["h"] < 1:
            problems.append(f"panel {panel['title']!r} is outside the grid: {pos}")
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                if (x, y) in taken:
                    problems.append(f"panel {panel['title']!r} overlaps {taken[(x, y)]!r} at {x},{y}")
                    break
                taken[(x, y)] = panel["title"]
            else:
                continue
            break
    return problems


def used_variables(dashboard: dict[str, Any]) -> set[str]:
    """Variables referenced anywhere except in their own definition."""
    text: list[str] = [expr for _, expr in expressions(dashboard)]
    for panel in panels(dashboard):
        text += [str(panel.get("datasource", "")), str(panel.get("links", ""))]
        text += [str(panel.get("fieldConfig", "")), str(panel.get("title", ""))]
        text += [str(t.get("datasource", "")) for t in panel.get("targets", [])]
    text += [str(a.get("datasource", "")) for a in dashboard["annotations"]["list"]]
    text += [str(v.get("datasource", "")) for v in dashboard["templating"]["list"]]
    return {name for chunk in text for name in _VARIABLE.findall(chunk)}


def check_variables(dashboard: dict[str, Any]) -> list[str]:
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    used = used_variables(dashboard)
    problems = [f"variable ${name} is used but not defined" for name in sorted(used - defined - BUILTIN_VARIABLES)]
    problems += [f"variable ${name} is defined but never used" for name in sorted(defined - used)]
    return problems


def links(dashboard: dict[str, Any]) -> list[str]:
    """Every link URL of the dashboard, its panels and their field overrides."""
    urls = [link.get("url", "") for link in dashboard.get("links", [])]
    for panel in panels(dashboard):
        urls += [link["url"] for link in panel.get("links", [])]
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "links":
                    urls += [link["url"] for link in prop["value"]]
    return [u for u in urls if u]


def check_links(dashboard: dict[str, Any], uids: set[str], dynamic: set[str]) -> list[str]:
    """Links into Grafana (`/d/UID`) must name a generated dashboard or an allowed dynamic placeholder."""
    return [
        f"link {url!r} points at unknown dashboard {match.group(1)!r}"
        for url in links(dashboard)
        if (match := _DASHBOARD_URL.search(url)) and match.group(1) not in uids | dynamic
    ]
