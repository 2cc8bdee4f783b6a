"""The parts of a runtime that depend on the model, built together so a reload can swap them at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from .alerting.actions import Actions
from .alerting.evaluator import Evaluator
from .alerting.evidence import EvidenceRunner
from .alerting.incidents import IncidentManager
from .alerting.payload import Links
from .clock import Clock
from .metrics import Metrics, StateCollector
from .model.envref import referenced_values
from .model.model import Model
from .probes.connections import ConnectionPools
from .probes.registry import ProbeContext
from .probes.runner import ProbeRunner
from .settings import Settings
from .traces.ingest import TraceService


def model_secrets(model: Model, environ: Mapping[str, str]) -> frozenset[str]:
    """Values of every ${ENV} reference in connections and probe specs."""
    documents: list[object] = [c.model_dump() for c in model.connections.values()]
    documents += [ref.signal.probe.model_dump() for ref in model.signals()]
    return referenced_values(documents, environ)


@dataclass(frozen=True)
class ModelParts:
    """Everything built from one model: probes, evaluation, incidents, actions, traces, state metrics."""

    model: Model
    runner: ProbeRunner
    evaluator: Evaluator
    incidents: IncidentManager
    actions: Actions
    traces: TraceService
    collector: StateCollector


def build_parts(
    model: Model,
    settings: Settings,
    engine: Engine,
    clock: Clock,
    metrics: Metrics,
    environ: Mapping[str, str] | None = None,
) -> ModelParts:
    """Build (not start) the model's parts; nothing is registered or scheduled yet."""
    environ_ = environ if environ is not None else os.environ
    pools = ConnectionPools(model.connections, environ_)
    links = Links(settings.public_url, settings.grafana_url, settings.runbook_base_url)
    evidence = EvidenceRunner(pools)
    traces = TraceService(model, engine, clock, metrics, max_pending=settings.otlp_max_pending)

    def run_evidence(rule_id: str, now: Any) -> dict[str, Any] | None:
        rule = model.rule(rule_id)
        if rule.evidence is None:
            # Trace signals bring their own evidence: the journeys (e.g. order ids) behind the value.
            return traces.evidence(rule.flow, rule.signal)
        return evidence.collect(rule.evidence, now)

    runner = ProbeRunner(
        model, engine, clock, metrics, ProbeContext(pools, state=engine, secrets=model_secrets(model, environ_))
    )
    incidents = IncidentManager(model, links, run_evidence)
    evaluator = Evaluator(model, engine, clock, metrics, incidents, run_evidence)
    actions = Actions(model, engine, clock, incidents)
    collector = StateCollector(model, engine, clock.now)
    return ModelParts(model, runner, evaluator, incidents, actions, traces, collector)
