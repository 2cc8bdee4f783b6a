"""Evidence: the first affected records behind an alert (order ids, SKUs, journeys), in one table shape.

One data type (`EvidenceTable`) and one function type (`EvidenceFn`: rule id and time to a
table, or None) serve every source: a rule's own SQL query (through the same read-only machinery
as sql probes) and trace signals, whose journeys in flight are their evidence. `rule_evidence`
picks the source for a rule; the incident pipeline calls it for each rule that fires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError, ProbeError
from .model.model import Model
from .model.probes import ContractProbe, TraceProbe
from .model.schema import Evidence
from .probes.connections import ConnectionPools
from .probes.sql import SqlQuery

log = logging.getLogger(__name__)

EVIDENCE_TIMEOUT_SECONDS = 5.0


class EvidenceTable(BaseModel):
    """Columns and the first rows, or an `error` saying why there is no evidence."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    columns: list[str] = Field(default_factory=list)
    rows: list[list[str | int | float | None]] = Field(default_factory=list)
    error: str | None = None  # set when the evidence query failed; rows are then empty

    def __bool__(self) -> bool:
        return bool(self.rows) or bool(self.error)


EvidenceFn = Callable[[str, datetime], EvidenceTable | None]
"""The evidence of a rule at a time (rule id, now); None when the rule has none to show."""

SignalEvidenceFn = Callable[[str, str], EvidenceTable | None]
"""The evidence a signal brings itself (flow id, signal id): trace journeys, failing payloads."""


class SqlEvidence:
    """Runs a rule's evidence query through the same read-only machinery as sql probes."""

    def __init__(self, pools: ConnectionPools) -> None:
        self._pools = pools

    def collect(self, evidence: Evidence, now: datetime) -> EvidenceTable:
        """Columns and rows, or an `error` saying why there is no evidence (never raises)."""
        try:
            engine = self._pools.engine(evidence.connection, connect_timeout=EVIDENCE_TIMEOUT_SECONDS)
            columns, rows = SqlQuery(engine, evidence.query, EVIDENCE_TIMEOUT_SECONDS).rows(now, limit=evidence.limit)
        except (ProbeError, ConfigError) as exc:
            log.warning("evidence query failed: %s", exc)
            return EvidenceTable(error=str(exc))
        return EvidenceTable(columns=[str(c) for c in columns], rows=[[_cell(v) for v in row] for row in rows])


def rule_evidence(
    model: Model,
    sql: SqlEvidence,
    signals: SignalEvidenceFn | None = None,
    *,
    contracts: SignalEvidenceFn | None = None,
) -> EvidenceFn:
    """The evidence function of a deployment: a rule's own query first, else its trace signal's
    journeys, else its contract signal's failing payloads (redacted)."""

    def collect(rule_id: str, now: datetime) -> EvidenceTable | None:
        rule = model.rule(rule_id)
        if rule.evidence is not None:
            return sql.collect(rule.evidence, now)
        probe = model.signal(rule.flow, rule.signal).probe
        if signals is not None and isinstance(probe, TraceProbe):
            return signals(rule.flow, rule.signal)
        if contracts is not None and isinstance(probe, ContractProbe):
            return contracts(rule.flow, rule.signal)
        return None

    return collect


def _cell(value: Any) -> str | float | int | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
