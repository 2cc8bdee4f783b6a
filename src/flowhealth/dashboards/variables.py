"""Dashboard variables: the datasource, the owning team and the flow."""

from __future__ import annotations

import grafanalib.core as G

from .panels import DATASOURCE

# Hidden variables (hide=2) still appear in URLs (var-flow=...), which links rely on.
HIDDEN = 2


def datasource_variable() -> G.Template:
    return G.Template(name="datasource", type="datasource", query="prometheus", label="Data source", hide=0)


def team_variable() -> G.Template:
    return G.Template(
        name="team",
        label="Owning team",
        query="label_values(flowhealth_flow_info, team)",
        dataSource=DATASOURCE,
        includeAll=True,
        multi=True,
        refresh=2,
        sort=1,
        default="$__all",
    )


def flow_variable() -> G.Template:
    # No custom allValue: "All" then expands to the flows of the selected teams only.
    return G.Template(
        name="flow",
        label="Flow",
        query='label_values(flowhealth_flow_info{team=~"$team"}, flow)',
        dataSource=DATASOURCE,
        includeAll=True,
        multi=True,
        refresh=2,
        sort=1,
        default="$__all",
    )


def fixed_flow_variable(flow: str) -> G.Template:
    """A flow dashboard shows one flow; the variable keeps queries and links uniform."""
    return G.Template(name="flow", label="Flow", type="constant", query=flow, default=flow, hide=HIDDEN)
