"""Assembles a running flowhealth: model, store, probes, evaluator, outbox worker, scheduler.

Nothing here is built at import time; `Runtime.build` takes everything it depends on, so tests
and the demo make their own (clock, registry, notifier, database).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from .alerting.actions import Actions
from .alerting.baseline_live import baseline_retention
from .alerting.enums import PassTrigger
from .alerting.evaluator import Evaluator
from .alerting.incidents import IncidentManager
from .alerting.timers import SignalKey
from .alerting.triggered import TriggeredEvaluation
from .clock import Clock, SystemClock
from .cluster import Cluster
from .cycle_health import CycleHealth
from .errors import StoreError
from .heap import keep_heap_small
from .metrics import Metrics, StateCollector
from .model.model import Model
from .notify.base import Notifier
from .notify.console import ConsoleNotifier
from .notify.delivery import OutboxWorker
from .notify.fanout import Fanout
from .notify.slack import SlackNotifier
from .probes.registry import Factory
from .probes.runner import ProbeGroup, ProbeRunner, scheduled_signals
from .probes.slots import plan_slots
from .runtime_parts import ModelParts, build_parts
from .settings import Settings
from .store.checkpoints import EVERY as CHECKPOINT_EVERY
from .store.checkpoints import Checkpoints
from .store.db import init_schema, make_engine, transaction
from .store.samples import prune_samples, retention_cutoff
from .traces.ingest import TraceService

if TYPE_CHECKING:
    from .sample_relay import SampleRelay

log = logging.getLogger(__name__)


def default_notifier(settings: Settings) -> Notifier:
    """Slack when a bot token is set, the console otherwise."""
    return SlackNotifier.from_settings(settings) or ConsoleNotifier()


@dataclass
class Runtime:
    """Every long-lived part of one flowhealth process."""

    settings: Settings
    model: Model
    engine: Engine
    clock: Clock
    registry: CollectorRegistry
    metrics: Metrics
    runner: ProbeRunner
    evaluator: Evaluator
    worker: OutboxWorker
    incidents: IncidentManager
    actions: Actions
    traces: TraceService
    speed: float = 1.0
    scheduler: BackgroundScheduler | None = field(default=None, init=False)
    cycles: CycleHealth = field(default_factory=CycleHealth, init=False)
    environ: Mapping[str, str] | None = field(default=None, init=False, repr=False)
    probe_factories: Mapping[str, Factory] | None = field(default=None, init=False, repr=False)
    collector: StateCollector | None = field(default=None, init=False, repr=False)
    cluster: Cluster | None = field(default=None, init=False, repr=False)
    fanout: Fanout | None = field(default=None, init=False, repr=False)
    _slot_keys: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, init=False, repr=False)
    triggered: TriggeredEvaluation = field(init=False, repr=False)
    relay: SampleRelay | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # The gate is looked up per pass: a reload swaps the evaluator (and its lock).
        self.triggered = TriggeredEvaluation(
            self._evaluate_signals, self.clock, lambda: self.evaluator.lock, speed=self.speed
        )

    @classmethod
    def build(
        cls,
        settings: Settings,
        model: Model,
        *,
        engine: Engine | None = None,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        notifier: Notifier | None = None,
        environ: Mapping[str, str] | None = None,
        speed: float = 1.0,
        probes: Mapping[str, Factory] | None = None,
        pacing_clock: Callable[[], float] | None = None,
    ) -> Runtime:
        engine = engine or make_engine(settings.database_url)
        init_schema(engine)
        clock = clock or SystemClock()
        registry = registry or CollectorRegistry()
        metrics = Metrics(registry)
        metrics.seed(model)
        parts = build_parts(model, settings, engine, clock, metrics, environ, probes)
        registry.register(parts.collector)
        environ_ = environ if environ is not None else os.environ
        fanout = Fanout(
            notifier or default_notifier(settings), model, environ_, pagerduty_url=settings.pagerduty_events_url
        )
        worker = OutboxWorker(engine, fanout, clock, metrics, pacing_clock=pacing_clock or time.monotonic)
        runtime = cls(
            settings,
            model,
            engine,
            clock,
            registry,
            metrics,
            parts.runner,
            parts.evaluator,
            worker,
            parts.incidents,
            parts.actions,
            parts.traces,
            speed,
        )
        runtime.environ = environ
        runtime.probe_factories = probes
        runtime.collector = parts.collector
        runtime.fanout = fanout
        runtime.cluster = Cluster(engine, frozenset(scheduled_signals(model)), expiry=settings.replica_expiry / speed)
        return runtime

    def record_mapping_changes(self) -> int:
        """Record contract, mapping and query changes since the model was last loaded (start-up and reload)."""
        from .hypercare.mapping_changes import record_mapping_changes, who_changed

        actor = who_changed(self.settings.model_dir)
        return len(record_mapping_changes(self.engine, self.model, self.clock.now(), actor=actor))

    def start(self) -> None:
        """Schedule probes, evaluation, delivery and pruning in background threads."""
        if self.scheduler is not None:
            return
        self._safe("mapping-changes", self.record_mapping_changes)()
        self.runner.batch_writes(written=self.triggered.touch)
        self.triggered.start()
        if self.engine.dialect.name == "postgresql":
            from .sample_relay import SampleRelay  # psycopg: the postgres extra

            self.relay = self.relay or SampleRelay(
                self.engine, self.triggered.touch, lambda: self._cluster().view.leads
            )
            self.relay.start()
        # Know this replica's role and probe share before the first job runs (retried by its job).
        self._safe("heartbeat", self._heartbeat)()
        scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=8),
                "control": ThreadPoolExecutor(max_workers=4),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        now = datetime.now(UTC)
        self._slot_keys = {}
        for slot in plan_slots(self.runner.scheduling(self.speed), self.settings.probe_slot / self.speed):
            # A slot's probes run one after the other from one job; a second round of a group may
            # start while the first is held up (its probes still running are skipped, not stacked).
            self._slot_keys[slot.job_id] = slot.keys
            scheduler.add_job(
                self.run_share,
                "interval",
                args=(ProbeGroup(slot.keys),),
                seconds=slot.interval,
                next_run_time=now + timedelta(seconds=slot.offset),
                id=slot.job_id,
                name=f"probes {slot.job_id}",
                max_instances=1 if len(slot.keys) == 1 else 2,
            )
        scheduler.add_job(
            self._safe("evaluate", self._leading(self.evaluate_and_deliver)),
            "interval",
            seconds=self.settings.evaluation_interval / self.speed,
            id="evaluate",
            executor="control",
        )
        scheduler.add_job(
            self._safe("deliver", self.worker.run_once),
            "interval",
            seconds=self.settings.delivery_interval,
            id="deliver",
            executor="control",
        )
        scheduler.add_job(
            self._safe("prune", self._leading(self.prune)), "interval", hours=1, id="prune", executor="control"
        )
        scheduler.add_job(
            self._safe("heartbeat", self._heartbeat),
            "interval",
            seconds=self.settings.heartbeat_interval / self.speed,
            id="heartbeat",
            executor="control",
        )
        # The folder checkpoints after its folds; this job covers the other writers (store/checkpoints.py).
        wal = self._safe("checkpoint", Checkpoints(self.engine).maybe)
        scheduler.add_job(wal, "interval", seconds=CHECKPOINT_EVERY, id="checkpoint", executor="control")
        scheduler.add_job(
            self._safe("digest", self._leading(self.queue_digests)),
            "interval",
            minutes=1,
            id="digest",
            executor="control",
        )
        if self.settings.review_channel:
            from .hypercare.schedule import review_job, review_trigger

            job = review_job(self.settings, self.model, self.engine, self.clock)
            trigger = review_trigger(self.settings.review_schedule)
            scheduler.add_job(
                self._safe("weekly-review", self._leading(job)), trigger, id="weekly-review", executor="control"
            )
        scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES)
        # A skipped run is a metric, not a log line per occurrence: slow probes are skipped, never stacked.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        if self.traces.interval is not None:
            # Trace signals are recomputed from persisted journeys, which also expire here.
            scheduler.add_job(
                self._safe("traces", self._leading(self.refresh_traces)),
                "interval",
                seconds=self.traces.interval / self.speed,
                id="traces",
                executor="control",
            )
        keep_heap_small(scheduler, executor="control")  # before the scheduler's threads exist
        scheduler.start()
        self.scheduler = scheduler
        log.info("flowhealth started: %d probes scheduled", len(scheduled_signals(self.model)))

    def _cluster(self) -> Cluster:
        if self.cluster is None:
            self.cluster = Cluster(self.engine, frozenset(scheduled_signals(self.model)))
        return self.cluster

    def _heartbeat(self) -> None:
        view = self._cluster().heartbeat()
        self.metrics.replica_leader.set(1 if view.leads else 0)
        self.metrics.replica_probes.set(len(view.owned))
        self.metrics.replicas.set(len(view.members))

    def _leading(self, job: Any) -> Any:
        """Jobs only the leader runs (each rule evaluated by one replica); followers skip them."""

        def run() -> None:
            if self._cluster().view.leads:
                job()

        run.__name__ = getattr(job, "__name__", "job")
        run.__qualname__ = getattr(job, "__qualname__", run.__name__)
        return run

    def run_share(self, slot: ProbeGroup) -> None:
        """Run the probes of a slot that this replica owns (all of them on SQLite)."""
        cluster = self._cluster()
        owned = tuple(key for key in slot.keys if cluster.owns(key))
        if owned:
            self.runner.run_group(slot.share(owned))

    def swap(self, parts: ModelParts) -> None:
        """Run on a new model's parts; the caller has stopped the jobs (in-flight ones finished)."""
        old_runner, old_traces = self.runner, self.traces
        if self.collector is not None:
            self.registry.unregister(self.collector)
        self.registry.register(parts.collector)
        self.collector = parts.collector
        self.metrics.seed(parts.model)
        self.model, self.runner, self.evaluator = parts.model, parts.runner, parts.evaluator
        self.incidents, self.actions, self.traces = parts.incidents, parts.actions, parts.traces
        if self.fanout is not None:
            self.fanout.use_model(parts.model)  # receivers added or changed by the reload deliver at once
        old_runner.close()
        old_traces.close()  # its inbox rows are folded by the new service

    def evaluate_and_deliver(self) -> None:
        """One evaluation cycle, then at once a delivery pass for what it queued.

        Waiting for the next scheduled delivery pass added up to its interval to every
        notification's latency; the scheduled passes remain for retries and backoff.
        """
        done = self.evaluator.run_pass()
        self.triggered.schedule(done.wakeups)  # a `for` this cycle started fires when it runs out
        self.worker.run_once()

    def _evaluate_signals(self, signals: frozenset[SignalKey], trigger: PassTrigger) -> Mapping[SignalKey, datetime]:
        """A pass started by new samples or a timer; what it queued goes to delivery at once.

        Only the leader evaluates: a follower announces its samples to it (sample_relay.py).
        """
        if not self._cluster().view.leads:
            if self.relay is not None and trigger is PassTrigger.SAMPLE:
                self.relay.announce(signals)  # the leader evaluates them at once
            return {}
        done = self.evaluator.run_pass(signals, trigger)
        self.worker.wake()
        return done.wakeups

    def refresh_traces(self) -> None:
        """Recompute trace signals from the journeys, then evaluate their rules at once."""
        self.traces.refresh()
        self.triggered.touch((ref.flow_id, ref.signal_id) for ref in self.traces.signals)

    def _on_skipped(self, event: JobEvent) -> None:
        # The scheduler skipped a whole slot: none of its probes ran.
        for flow, signal in self._slot_keys.get(str(event.job_id), ()):
            self.metrics.probe_skipped.labels(flow, signal).inc()

    def _safe(self, name: str, job: Any) -> Any:
        def run() -> None:
            try:
                job()
            except StoreError as exc:
                # The database is away (restart, failover): say so once per run, the next run retries.
                log.warning("%s skipped: %s", getattr(job, "__qualname__", job), str(exc).splitlines()[0])
                # /healthz is unauthenticated: the error type only, the log line has the details.
                self.cycles.failed(name, f"database error: {type(exc.__cause__ or exc).__name__}", datetime.now(UTC))
            except Exception as exc:
                log.exception("%s failed", getattr(job, "__qualname__", job))
                self.cycles.failed(name, f"internal error: {type(exc).__name__}", datetime.now(UTC))
            else:
                self.cycles.succeeded(name)

        run.__name__ = getattr(job, "__name__", "job")
        return run

    def queue_digests(self) -> list[str]:
        """Write the daily email digests that are due (at most one per receiver and day)."""
        from .alerting.digest import queue_digests

        with transaction(self.engine) as session:
            return queue_digests(session, self.model, self.clock.now())

    def prune(self) -> int:
        with transaction(self.engine) as session:
            now = self.clock.now()
            return prune_samples(
                session, retention_cutoff(now, self.settings.sample_retention_days), baseline_retention(self.model, now)
            )

    def stop(self, *, leave: bool = True) -> None:
        """Stop the jobs; an evaluation or delivery in flight finishes, what is not sent stays queued.

        `leave=False` (a reload) keeps this replica's membership and leadership.
        """
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
            log.info("flowhealth stopped: running cycles finished")
        self.triggered.close()
        if self.relay is not None:
            self.relay.close()
        self.runner.close()
        self.worker.close()
        self.traces.close()
        if leave and self.cluster is not None:
            self.cluster.close()

    def healthy(self) -> dict[str, Any]:
        """What /healthz reports: database reachable, scheduler running, background cycles succeeding."""
        from sqlalchemy import text

        status: dict[str, Any] = {"scheduler": "running" if self.scheduler is not None else "stopped"}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as exc:
            status["database"] = f"unreachable: {type(exc).__name__}"
        status["cycles"] = self.cycles.report()
        status["replica"] = self._cluster().view.as_dict()
        # Never `ok` while alerting is down: a cycle failing on the database degrades too.
        status["status"] = "ok" if status["database"] == "ok" and not self.cycles.failing() else "degraded"
        return status
