"""Recording rules the dashboards rely on, generated from the model.

Static facts the scrape does not carry (a signal's kind, a flow's dashboard uid) are recorded as
`vector(1)` with labels, so dashboards can join any per-signal series to them in PromQL.
"""

from __future__ import annotations

from typing import Any

from ..links import flow_dashboard_uid
from ..model.model import Model

SIGNAL_INFO = "flowhealth:signal_info"
FLOW_DASHBOARD_INFO = "flowhealth:flow_dashboard_info"
SIGNAL_STATUS = "flowhealth:signal_status"
FLOW_STATUS = "flowhealth:flow_status"

RECORDED = (SIGNAL_INFO, FLOW_DASHBOARD_INFO, SIGNAL_STATUS, FLOW_STATUS)

# The status scale every status panel maps to colours: worse states have higher numbers, so
# `max` over a flow's signals is the flow's state.
STATUS_OK, STATUS_UNKNOWN, STATUS_PENDING, STATUS_BREACH = 0, 1, 2, 3

_SIGNAL_STATUS_EXPR = (
    "max by (flow, signal, signal_kind) ("
    f'({STATUS_BREACH} * flowhealth_alerts{{alertstate="firing"}}'
    f' or {STATUS_PENDING} * flowhealth_alerts{{alertstate="pending"}}'
    " or (1 - flowhealth_probe_up)"
    f" or 0 * {SIGNAL_INFO})"
    f" * on (flow, signal) group_left (signal_kind) {SIGNAL_INFO}"
    ")"
)


def recording_rules(model: Model) -> list[dict[str, Any]]:
    """One rule group; order matters: later rules read what earlier ones recorded this cycle."""
    rules: list[dict[str, Any]] = []
    for ref in model.signals():
        rules.append(
            {
                "record": SIGNAL_INFO,
                "expr": "vector(1)",
                "labels": {
                    "flow": ref.flow_id,
                    "signal": ref.signal_id,
                    "signal_kind": ref.signal.kind.value,
                    "team": ref.flow.owner,
                },
            }
        )
    for flow_id, flow in sorted(model.flows.items()):
        rules.append(
            {
                "record": FLOW_DASHBOARD_INFO,
                "expr": "vector(1)",
                "labels": {"flow": flow_id, "team": flow.owner, "dashboard_uid": flow_dashboard_uid(flow_id)},
            }
        )
    rules.append({"record": SIGNAL_STATUS, "expr": _SIGNAL_STATUS_EXPR})
    rules.append({"record": FLOW_STATUS, "expr": f"max by (flow) ({SIGNAL_STATUS})"})
    return [{"name": "flowhealth-dashboards", "rules": rules}]
