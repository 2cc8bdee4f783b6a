"""Evidence queries: the first affected records, shown in the alert message."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..errors import ConfigError, ProbeError
from ..model.schema import Evidence
from ..probes.connections import ConnectionPools
from ..probes.sql import SqlQuery

log = logging.getLogger(__name__)

EVIDENCE_TIMEOUT_SECONDS = 5.0


class EvidenceRunner:
    """Runs a rule's evidence query through the same read-only machinery as sql probes."""

    def __init__(self, pools: ConnectionPools) -> None:
        self._pools = pools

    def collect(self, evidence: Evidence, now: datetime) -> dict[str, Any]:
        """Columns and rows, or an `error` saying why there is no evidence (never raises)."""
        try:
            engine = self._pools.engine(evidence.connection, connect_timeout=EVIDENCE_TIMEOUT_SECONDS)
            columns, rows = SqlQuery(engine, evidence.query, EVIDENCE_TIMEOUT_SECONDS).rows(now, limit=evidence.limit)
        except (ProbeError, ConfigError) as exc:
            log.warning("evidence query failed: %s", exc)
            return {"columns": [], "rows": [], "error": str(exc)}
        return {"columns": columns, "rows": [[_cell(v) for v in row] for row in rows]}


def _cell(value: Any) -> str | float | int | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
