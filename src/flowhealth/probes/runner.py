"""Runs a probe once: outcome, duration, samples and probe state, never an exception."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.engine import Engine

from ..clock import Clock
from ..errors import ConfigError, ProbeError, ProbeInvalid, ProbeTimeout, StoreError
from ..metrics import Metrics
from ..model.envref import redact
from ..model.model import Model
from ..store.batch import BatchRecorder, Result
from ..store.db import transaction
from ..store.records import Mismatch, replace_evidence
from ..store.samples import Reading
from .base import KeepsEvidence, Outcome, Probe
from .registry import ProbeContext, build_probe
from .writer import BatchWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    flow: str
    signal: str
    outcome: Outcome
    readings: list[Reading] = field(default_factory=list)
    error: str | None = None
    duration: float = 0.0
    evidence: Sequence[Mismatch] | None = None


class ProbeRunner:
    """Owns the probe instances of a model and runs them on demand (the scheduler calls it)."""

    def __init__(self, model: Model, engine: Engine, clock: Clock, metrics: Metrics, ctx: ProbeContext) -> None:
        self._model = model
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        # Probes that count what flowhealth itself stores (interventions) read the state database.
        self._ctx = ctx if ctx.state is not None else replace(ctx, state=engine)
        self._probes: dict[tuple[str, str], Probe] = {}
        self._writer: BatchWriter[tuple[RunResult, datetime, str]] | None = None
        self._recorder = BatchRecorder()

    def _probe(self, flow: str, signal: str) -> Probe:
        key = (flow, signal)
        if key not in self._probes:
            self._probes[key] = build_probe(self._model.signal(flow, signal).probe, self._ctx, flow)
        return self._probes[key]

    def run(self, flow: str, signal: str, *, record: bool = True) -> RunResult:
        """Run the probe of one signal; store what it saw (or that it saw nothing)."""
        kind = self._model.signal(flow, signal).probe.kind
        started = time.perf_counter()
        now = self._clock.now()
        readings: list[Reading] = []
        error: str | None = None
        evidence: Sequence[Mismatch] | None = None
        try:
            probe = self._probe(flow, signal)
            readings = list(probe.run(now))
            outcome = Outcome.SUCCESS
            if isinstance(probe, KeepsEvidence):
                evidence = probe.take_evidence()
        except ProbeTimeout as exc:
            outcome, error = Outcome.TIMEOUT, str(exc)
        except ProbeInvalid as exc:
            outcome, error = Outcome.INVALID, str(exc)
        except (ProbeError, ConfigError) as exc:
            outcome, error = Outcome.ERROR, str(exc)
        except Exception as exc:
            log.exception("probe %s/%s crashed", flow, signal)
            outcome, error = Outcome.ERROR, f"internal error: {type(exc).__name__}"
        duration = time.perf_counter() - started
        if error and self._ctx.secrets:
            # A target may echo a credential back in its error (a 401 quoting the token).
            error = redact(error, self._ctx.secrets)
        self._metrics.probe_runs.labels(flow, signal, kind, outcome.value).inc()
        self._metrics.probe_duration.labels(flow, signal, kind).observe(duration)
        if error:
            log.warning("probe %s/%s: %s: %s", flow, signal, outcome.value, error)
        result = RunResult(flow, signal, outcome, readings, error, duration, evidence)
        if record:
            try:
                self._record(result, now, kind)
            except StoreError as exc:
                log.error("probe %s/%s: result not stored: %s", flow, signal, exc)
        return result

    def _record(self, result: RunResult, now: datetime, kind: str) -> None:
        if self._writer is not None:
            self._writer.submit((result, now, kind))
            return
        self._write_batch([(result, now, kind)])

    def batch_writes(self, every: float = 0.25) -> None:
        """From now on, record results in batches from a background thread (the runtime does)."""
        if self._writer is None:
            self._writer = BatchWriter(self._write_batch, every)

    def _write_batch(self, batch: list[tuple[RunResult, datetime, str]]) -> None:
        with transaction(self._engine) as session:
            self._recorder.write(
                session,
                [
                    Result(r.flow, r.signal, kind, r.outcome.value, r.readings, now, r.duration, r.error)
                    for r, now, kind in batch
                ],
            )
            for result, now, _ in batch:
                if result.outcome is Outcome.SUCCESS and result.evidence is not None:
                    replace_evidence(session, result.flow, result.signal, result.evidence, now)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for probe in self._probes.values():
            probe.close()
        self._probes.clear()
        self._ctx.close()


def scheduled_signals(model: Model) -> Mapping[tuple[str, str], float]:
    """(flow, signal) -> interval in seconds, for every signal flowhealth measures itself."""
    from .registry import is_scheduled

    out: dict[tuple[str, str], float] = {}
    for ref in model.signals():
        probe = ref.signal.probe
        if is_scheduled(probe):
            out[(ref.flow_id, ref.signal_id)] = probe.interval.total_seconds()  # type: ignore[union-attr]
    return out
