"""What a mapping change is: a flow's contract version, its join identifiers and span mappings, or
a probe's query. Each is a fact with a digest; two models compared give the changes between them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .model import Model
from .probes import ContractProbe, HttpProbe, PrometheusProbe, ReconcileProbe, SqlProbe, SqlSource

SUMMARY_CHARS = 500


class Aspect(StrEnum):
    """Which kind of mapping changed."""

    CONTRACT = "contract"
    MAPPING = "mapping"
    QUERY = "query"


class ChangeKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


@dataclass(frozen=True)
class MappingFact:
    """One mapping of a flow as it stands: a digest to compare, a summary to show."""

    flow: str
    aspect: Aspect
    subject: str
    digest: str
    summary: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.flow, self.aspect.value, self.subject)


@dataclass(frozen=True)
class MappingChange:
    """A mapping that was added, changed or removed between two versions of the model."""

    flow: str
    aspect: Aspect
    subject: str
    kind: ChangeKind
    before: str | None
    after: str | None


def _digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fact(flow: str, aspect: Aspect, subject: str, document: Any, summary: str) -> MappingFact:
    return MappingFact(flow, aspect, subject, _digest(document), " ".join(summary.split())[:SUMMARY_CHARS])


def _query_text(probe: object) -> str | None:
    if isinstance(probe, SqlProbe | PrometheusProbe):
        return probe.query
    if isinstance(probe, HttpProbe):
        return f"{probe.method} {probe.url} {probe.path}"
    if isinstance(probe, ReconcileProbe):
        sides = [(n, s) for n, s in (("source", probe.source), ("target", probe.target))]
        return " | ".join(f"{n}: {s.query if isinstance(s, SqlSource) else s.url}" for n, s in sides)
    if isinstance(probe, ContractProbe):
        return probe.source.query if isinstance(probe.source, SqlSource) else probe.source.url
    return None


def mapping_facts(model: Model) -> dict[tuple[str, str, str], MappingFact]:
    """Every contract version, identifier set, span mapping and probe query of the model."""
    facts: list[MappingFact] = []
    for flow_id, flow in sorted(model.flows.items()):
        loaded = model.contracts.get(flow_id)
        if flow.contract is not None:
            document = {"spec": flow.contract.model_dump(), "schema": loaded.schema if loaded else None}
            facts.append(
                _fact(flow_id, Aspect.CONTRACT, flow.contract.name, document, f"version {flow.contract.version}")
            )
        if flow.identifiers:
            ids = {s: i.model_dump() for s, i in sorted(flow.identifiers.items())}
            text = ", ".join(f"{s}: {i.field}" for s, i in sorted(flow.identifiers.items()))
            facts.append(_fact(flow_id, Aspect.MAPPING, "identifiers", ids, text))
        for span in flow.traces.spans if flow.traces is not None else []:
            text = f"stage {span.stage}, id {span.entity_id}" + (f", payload {span.payload}" if span.payload else "")
            facts.append(_fact(flow_id, Aspect.MAPPING, f"span {span.service}/{span.name}", span.model_dump(), text))
        for signal_id, signal in sorted(flow.signals.items()):
            query = _query_text(signal.probe)
            if query is None:
                continue
            spec = signal.probe.model_dump(exclude={"interval", "timeout"})
            facts.append(_fact(flow_id, Aspect.QUERY, signal_id, spec, query))
    return {f.key: f for f in facts}


def diff_facts(
    before: dict[tuple[str, str, str], MappingFact], after: dict[tuple[str, str, str], MappingFact]
) -> list[MappingChange]:
    """The changes from one set of facts to the next, in a stable order."""
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old.digest == new.digest:
            continue
        flow, aspect, subject = key
        kind = ChangeKind.ADDED if old is None else ChangeKind.REMOVED if new is None else ChangeKind.CHANGED
        out.append(
            MappingChange(
                flow,
                Aspect(aspect),
                subject,
                kind,
                old.summary if old is not None else None,
                new.summary if new is not None else None,
            )
        )
    return out
