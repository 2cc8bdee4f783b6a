"""The parts of a runtime that depend on the model, built together so a reload can swap them at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from .alerting.actions import Actions
from .alerting.evaluator import Evaluator
from .alerting.incidents import IncidentManager
from .clock import Clock
from .evidence import ReconcileEvidence, SqlEvidence, rule_evidence
from .links import Links
from .metrics import Metrics, StateCollector
from .model.envref import referenced_values
from .model.model import Model
from .probes.connections import ConnectionPools
from .probes.registry import Factory, ProbeContext
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
    probes: Mapping[str, Factory] | None = None,
) -> ModelParts:
    """Build (not start) the model's parts; nothing is registered or scheduled yet."""
    environ_ = environ if environ is not None else os.environ
    pools = ConnectionPools(model.connections, environ_)
    links = Links(settings.public_url, settings.grafana_url, settings.runbook_base_url)
    traces = TraceService(model, engine, clock, metrics, max_pending=settings.otlp_max_pending)
    runner = ProbeRunner(
        model,
        engine,
        clock,
        metrics,
        ProbeContext(pools, state=engine, secrets=model_secrets(model, environ_), factories=probes),
    )
    # Trace, contract and reconcile signals bring their own evidence: the journeys behind the
    # value, the failing payloads (redacted), or the keys that did not match.
    evidence = rule_evidence(
        model,
        SqlEvidence(pools),
        traces.evidence,
        contracts=runner.contract_evidence,
        reconciled=ReconcileEvidence(model, engine).collect,
    )
    incidents = IncidentManager(model, links, evidence)
    evaluator = Evaluator(model, engine, clock, metrics, incidents, evidence)
    actions = Actions(model, engine, clock, incidents)
    collector = StateCollector(model, engine, clock.now)
    return ModelParts(model, runner, evaluator, incidents, actions, traces, collector)
