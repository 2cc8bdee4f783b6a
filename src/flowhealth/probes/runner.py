"""Runs a probe once: outcome, duration, samples and probe state, never an exception."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.engine import Engine

from ..clock import Clock
from ..errors import ConfigError, ProbeError, ProbeInvalid, ProbeTimeout, StoreError
from ..evidence import EvidenceTable
from ..metrics import Metrics
from ..model.envref import redact
from ..model.model import Model
from ..model.probes import ContractProbe as ContractProbeSpec
from ..model.probes import ProbeSpec
from ..model.probes import SqlProbe as SqlSpec
from ..store.batch import BatchRecorder, Result
from ..store.db import transaction
from ..store.records import Mismatch, replace_evidence
from ..store.samples import Reading
from .base import KeepsEvidence, Outcome, Probe
from .contract import ContractProbe
from .contract import evidence_table as contract_evidence_table
from .registry import ProbeContext, build_probe
from .slots import Scheduled
from .sql import Lease, SqlProbe
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


class _Entry:
    """One probe of the model: its instance (built at its first run), pre-labelled metrics, a run lock."""

    __slots__ = (
        "duration",
        "evidence",
        "flow",
        "kind",
        "probe",
        "round",
        "running",
        "runs",
        "shares",
        "signal",
        "skipped",
    )

    def __init__(self, flow: str, signal: str, kind: str, metrics: Metrics) -> None:
        self.flow = flow
        self.signal = signal
        self.kind = kind
        self.probe: Probe | None = None
        self.shares = False  # runs on a group's borrowed connection (SQL probes)
        self.evidence = False  # keeps evidence (KeepsEvidence): checked once, not per run
        self.running = threading.Lock()  # held while a scheduled run is going: the next one is skipped
        self.round = 0  # the group round that last ran this probe
        # labels() once per probe, not on every run.
        self.runs = {o: metrics.probe_runs.labels(flow, signal, kind, o.value) for o in Outcome}
        self.duration = metrics.probe_duration.labels(flow, signal, kind)
        self.skipped = metrics.probe_skipped.labels(flow, signal)


class ProbeGroup:
    """Probes the scheduler runs from one job, one after the other (see `probes.slots`)."""

    __slots__ = ("_entries", "_rounds", "_share", "keys")

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        self.keys = tuple(keys)
        self._entries: tuple[_Entry, ...] | None = None
        self._rounds = itertools.count(1)
        self._share: ProbeGroup | None = None

    def share(self, keys: tuple[tuple[str, str], ...]) -> ProbeGroup:
        """The part of this group one replica owns (`keys`, in the group's order).

        One share per group, replaced when the ownership changes: remembering every ownership
        ever seen grew with each replica joining or leaving. The share counts rounds with its
        group, so a probe that ran in round n of the whole group is not taken for one a later
        round ran (and skipped) by a share whose own count started again at 1.
        """
        if keys == self.keys:
            return self
        share = self._share
        if share is None or share.keys != keys:
            share = self._share = ProbeGroup(keys)
            share._rounds = self._rounds
        return share


class ProbeRunner:
    """Owns the probe instances of a model and runs them on demand (the scheduler calls it)."""

    def __init__(self, model: Model, engine: Engine, clock: Clock, metrics: Metrics, ctx: ProbeContext) -> None:
        self._model = model
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        # Probes that count what flowhealth itself stores (interventions) read the state database.
        self._ctx = ctx if ctx.state is not None else replace(ctx, state=engine)
        if not self._ctx.contracts:
            self._ctx = replace(self._ctx, contracts=model.contracts)  # what contract probes validate against
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._writer: BatchWriter[tuple[RunResult, datetime, str]] | None = None
        self._recorder = BatchRecorder()
        # For measurements (benchmarks): called with (flow, signal) just before each scheduled run
        # starts, and with its result just after it ended.
        self.on_start: Callable[[str, str], None] | None = None
        self.on_result: Callable[[RunResult], None] | None = None

    def _entry(self, flow: str, signal: str) -> _Entry:
        entry = self._entries.get((flow, signal))
        if entry is None:
            with self._lock:
                entry = self._entries.get((flow, signal))
                if entry is None:
                    kind = self._model.signal(flow, signal).probe.kind
                    entry = self._entries[(flow, signal)] = _Entry(flow, signal, kind, self._metrics)
        return entry

    def _probe(self, entry: _Entry) -> Probe:
        if entry.probe is None:
            probe = build_probe(self._model.signal(entry.flow, entry.signal).probe, self._ctx, entry.flow)
            entry.shares = isinstance(probe, SqlProbe)
            entry.evidence = isinstance(probe, KeepsEvidence)
            entry.probe = probe
        return entry.probe

    def run(self, flow: str, signal: str, *, record: bool = True) -> RunResult:
        """Run the probe of one signal; store what it saw (or that it saw nothing)."""
        return self._run(self._entry(flow, signal), None, record)

    def run_group(self, group: ProbeGroup) -> None:
        """Run a scheduler slot's probes one after the other; SQL probes share one pooled connection.

        A probe whose previous run is still going is skipped and counted, never stacked; the
        others of the group run.
        """
        entries = group._entries
        if entries is None:
            entries = group._entries = tuple(self._entry(flow, signal) for flow, signal in group.keys)
        this_round = next(group._rounds)
        lease = Lease()
        hook, done = self.on_start, self.on_result
        try:
            for entry in entries:
                if entry.round > this_round:
                    continue  # a later round of this group ran it while this one was held up
                if not entry.running.acquire(blocking=False):
                    entry.skipped.inc()
                    continue
                entry.round = this_round
                try:
                    if hook is not None:
                        hook(entry.flow, entry.signal)
                    result = self._run(entry, lease, True)
                    if done is not None:
                        done(result)
                finally:
                    entry.running.release()
        finally:
            lease.close()

    def _run(self, entry: _Entry, lease: Lease | None, record: bool) -> RunResult:
        flow, signal = entry.flow, entry.signal
        started = time.perf_counter()
        now = self._clock.now()
        readings: list[Reading] = []
        error: str | None = None
        evidence: Sequence[Mismatch] | None = None
        try:
            probe = self._probe(entry)
            shared = lease is not None and entry.shares
            readings = probe.run_shared(now, lease) if shared else list(probe.run(now))  # type: ignore[attr-defined]
            outcome = Outcome.SUCCESS
            if entry.evidence:
                evidence = probe.take_evidence()  # type: ignore[attr-defined]
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
        entry.runs[outcome].inc()
        entry.duration.observe(duration)
        if error and record:  # without recording, the caller shows the result itself (`probe run`)
            log.warning("probe %s/%s: %s: %s", flow, signal, outcome.value, error)
        result = RunResult(flow, signal, outcome, readings, error, duration, evidence)
        if record:
            try:
                self._record(result, now, entry.kind)
            except StoreError as exc:
                log.error("probe %s/%s: result not stored: %s", flow, signal, exc)
        return result

    def _record(self, result: RunResult, now: datetime, kind: str) -> None:
        if self._writer is not None:
            self._writer.submit((result, now, kind))
            return
        self._write_batch([(result, now, kind)])

    def batch_writes(self, every: float = 0.25, written: Callable[[set[tuple[str, str]]], None] | None = None) -> None:
        """From now on, record results in batches from a background thread (the runtime does).

        `written` is told the (flow, signal)s of each batch once stored, so their rules are evaluated at once.
        """
        if self._writer is None:
            told = None if written is None else (lambda batch: written({(r.flow, r.signal) for r, _, _ in batch}))
            self._writer = BatchWriter(self._write_batch, every, written=told)

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

    def scheduling(self, speed: float = 1.0) -> dict[tuple[str, str], Scheduled]:
        """Every scheduled probe with its interval (seconds of real time) and the connection it may share."""
        out: dict[tuple[str, str], Scheduled] = {}
        for key, interval in scheduled_signals(self._model).items():
            out[key] = Scheduled(interval / speed, _shares(self._model.signal(*key).probe))
        return out

    def contract_evidence(self, flow: str, signal: str) -> EvidenceTable | None:
        """The payloads behind a contract signal, redacted (None for other signals); read when an alert fires."""
        spec = self._model.signal(flow, signal).probe
        if not isinstance(spec, ContractProbeSpec):
            return None
        try:
            probe = self._probe(self._entry(flow, signal))
            assert isinstance(probe, ContractProbe)
            failing = probe.failing(self._clock.now(), spec.evidence_limit)
        except (ProbeError, ConfigError) as exc:
            return EvidenceTable(error=redact(str(exc), self._ctx.secrets))
        contract = self._model.contracts[flow]
        return contract_evidence_table(contract, spec.key or "record", failing)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for entry in self._entries.values():
            if entry.probe is not None:
                entry.probe.close()
        self._entries.clear()
        self._ctx.close()


def _shares(probe: ProbeSpec) -> str | None:
    """SQL probes of one connection may share a slot's job and its pooled connection."""
    return f"sql:{probe.connection}" if isinstance(probe, SqlSpec) else None


def scheduled_signals(model: Model) -> Mapping[tuple[str, str], float]:
    """(flow, signal) -> interval in seconds, for every signal flowhealth measures itself."""
    from .registry import is_scheduled

    out: dict[tuple[str, str], float] = {}
    for ref in model.signals():
        probe = ref.signal.probe
        if is_scheduled(probe):
            out[(ref.flow_id, ref.signal_id)] = probe.interval.total_seconds()  # type: ignore[union-attr]
    return out
