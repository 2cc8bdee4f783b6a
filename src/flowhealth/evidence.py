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
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from .errors import ConfigError, ProbeError
from .model.model import Model
from .model.probes import ContractProbe, ReconcileProbe, TraceProbe
from .model.schema import Evidence
from .probes.connections import ConnectionPools
from .probes.sql import SqlQuery
from .store.records import MismatchEvidence, latest_evidence
from .store.tables import SignalValue

log = logging.getLogger(__name__)

EVIDENCE_TIMEOUT_SECONDS = 5.0


class EvidenceTable(BaseModel):
    """Columns and the first rows, or an `error` saying why there is no evidence."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    columns: list[str] = Field(default_factory=list)
    rows: list[list[str | int | float | None]] = Field(default_factory=list)
    error: str | None = None  # set when the evidence query failed; rows are then empty
    # How many rows the source found in all, when it kept fewer (a reconciliation keeps a capped
    # sample of its failing keys): renderers say "N more rows" from it. None: `rows` is everything.
    total: int | None = None

    @property
    def more(self) -> int:
        """Rows the source found beyond those kept here."""
        return max(0, (self.total or 0) - len(self.rows))

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


class ReconcileEvidence:
    """A reconciliation's failing keys (payment ids, amounts, currency), as its last run stored them."""

    def __init__(self, model: Model, engine: Engine) -> None:
        self._model = model
        self._engine = engine

    def collect(self, flow: str, signal: str) -> EvidenceTable | None:
        """The stored sample of failing keys, largest gap first; None for other signals or none failing."""
        probe = self._model.signal(flow, signal).probe
        if not isinstance(probe, ReconcileProbe) or probe.measure == "records":
            return None
        with Session(self._engine) as session:
            sample = latest_evidence(session, flow, signal)
            found = _mismatch_count(session, flow, signal) if probe.measure == "mismatches" else None
        if not sample:
            return None
        return EvidenceTable(
            columns=[probe.key, "mismatch", "currency", "source amount", "target amount"],
            rows=[_mismatch_row(m) for m in sample],
            # The sample is capped at evidence_limit; the mismatch counts of the same run say how many failed.
            total=found if found is not None and found > len(sample) else None,
        )


def _mismatch_count(session: Session, flow: str, signal: str) -> int:
    stmt = select(func.sum(SignalValue.value)).where(col(SignalValue.flow) == flow, col(SignalValue.signal) == signal)
    return int(session.exec(stmt).one() or 0)


def _mismatch_row(m: MismatchEvidence) -> list[str | int | float | None]:
    return [m.record_key, m.kind, m.currency, _amount(m.source_amount), _amount(m.target_amount)]


def _amount(value: float | None) -> str:
    return "missing" if value is None else f"{value:.2f}"


def rule_evidence(
    model: Model,
    sql: SqlEvidence,
    signals: SignalEvidenceFn | None = None,
    *,
    contracts: SignalEvidenceFn | None = None,
    reconciled: SignalEvidenceFn | None = None,
) -> EvidenceFn:
    """The evidence function of a deployment: a rule's own query first, else its trace signal's
    journeys, its contract signal's failing payloads (redacted), or its reconciliation's failing keys."""

    def collect(rule_id: str, now: datetime) -> EvidenceTable | None:
        rule = model.rule(rule_id)
        if rule.evidence is not None:
            return sql.collect(rule.evidence, now)
        probe = model.signal(rule.flow, rule.signal).probe
        if signals is not None and isinstance(probe, TraceProbe):
            return signals(rule.flow, rule.signal)
        if contracts is not None and isinstance(probe, ContractProbe):
            return contracts(rule.flow, rule.signal)
        if reconciled is not None and isinstance(probe, ReconcileProbe):
            return reconciled(rule.flow, rule.signal)
        return None

    return collect


def _cell(value: Any) -> str | float | int | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
