"""URLs and identifiers other tools must agree on: dashboard uids, dashboard and runbook links."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

OVERVIEW_UID = "flowhealth-overview"


def flow_dashboard_uid(flow: str) -> str:
    """Grafana uid of a flow's detail dashboard: lowercase, at most 40 characters, stable."""
    uid = f"flowhealth-flow-{flow}".lower()
    if len(uid) <= 40:
        return uid
    digest = hashlib.sha1(flow.encode()).hexdigest()[:8]
    return f"{uid[:31]}-{digest}"


def flow_dashboard_url(grafana_url: str, flow: str) -> str:
    return f"{grafana_url.rstrip('/')}/d/{flow_dashboard_uid(flow)}/?var-flow={quote(flow)}"


@dataclass(frozen=True)
class Links:
    """Where runbooks and dashboards live for this deployment."""

    public_url: str
    grafana_url: str
    runbook_base_url: str | None = None

    def runbook(self, runbook_id: str) -> str:
        base = self.runbook_base_url or f"{self.public_url.rstrip('/')}/runbooks/"
        return f"{base.rstrip('/')}/{runbook_id}"

    def incident(self, number: int) -> str:
        """The incident's page on this service: its timeline, evidence and runbook."""
        return f"{self.public_url.rstrip('/')}/incidents/{number}"
