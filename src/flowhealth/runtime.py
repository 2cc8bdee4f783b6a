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
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from .alerting.actions import Actions
from .alerting.evaluator import Evaluator
from .alerting.incidents import IncidentManager
from .clock import Clock, SystemClock
from .errors import StoreError
from .evidence import SqlEvidence, rule_evidence
from .links import Links
from .metrics import Metrics, StateCollector
from .model.envref import referenced_values
from .model.model import Model
from .notify.base import Notifier
from .notify.console import ConsoleNotifier
from .notify.delivery import OutboxWorker
from .notify.fanout import Fanout
from .notify.slack import SlackNotifier
from .probes.connections import ConnectionPools
from .probes.registry import Factory, ProbeContext
from .probes.runner import ProbeGroup, ProbeRunner, scheduled_signals
from .probes.slots import plan_slots
from .settings import Settings
from .store.db import init_schema, make_engine, transaction
from .store.samples import prune_samples, retention_cutoff
from .traces.ingest import TraceService

log = logging.getLogger(__name__)


def model_secrets(model: Model, environ: Mapping[str, str]) -> frozenset[str]:
    """Values of every ${ENV} reference in connections and probe specs."""
    documents: list[object] = [c.model_dump() for c in model.connections.values()]
    documents += [ref.signal.probe.model_dump() for ref in model.signals()]
    return referenced_values(documents, environ)


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
    _slot_keys: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, init=False, repr=False)

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
        registry.register(StateCollector(model, engine, clock.now))
        environ_ = environ if environ is not None else os.environ
        pools = ConnectionPools(model.connections, environ_)
        links = Links(settings.public_url, settings.grafana_url, settings.runbook_base_url)
        traces = TraceService(model, engine, clock, metrics, max_pending=settings.otlp_max_pending)
        evidence = rule_evidence(model, SqlEvidence(pools), traces.evidence)

        runner = ProbeRunner(
            model,
            engine,
            clock,
            metrics,
            ProbeContext(pools, state=engine, secrets=model_secrets(model, environ_), factories=probes),
        )
        incidents = IncidentManager(model, links, evidence)
        evaluator = Evaluator(model, engine, clock, metrics, incidents, evidence)
        fanout = Fanout(
            notifier or default_notifier(settings), model, environ_, pagerduty_url=settings.pagerduty_events_url
        )
        worker = OutboxWorker(engine, fanout, clock, metrics, pacing_clock=pacing_clock or time.monotonic)
        actions = Actions(model, engine, clock, incidents)
        return cls(
            settings,
            model,
            engine,
            clock,
            registry,
            metrics,
            runner,
            evaluator,
            worker,
            incidents,
            actions,
            traces,
            speed,
        )

    def start(self) -> None:
        """Schedule probes, evaluation, delivery and pruning in background threads."""
        if self.scheduler is not None:
            return
        self.runner.batch_writes()
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
                self.runner.run_group,
                "interval",
                args=(ProbeGroup(slot.keys),),
                seconds=slot.interval,
                next_run_time=now + timedelta(seconds=slot.offset),
                id=slot.job_id,
                name=f"probes {slot.job_id}",
                max_instances=1 if len(slot.keys) == 1 else 2,
            )
        scheduler.add_job(
            self._safe(self.evaluate_and_deliver),
            "interval",
            seconds=self.settings.evaluation_interval / self.speed,
            id="evaluate",
            executor="control",
        )
        scheduler.add_job(
            self._safe(self.worker.run_once),
            "interval",
            seconds=self.settings.delivery_interval,
            id="deliver",
            executor="control",
        )
        scheduler.add_job(self._safe(self.prune), "interval", hours=1, id="prune", executor="control")
        if self.settings.review_channel:
            from .hypercare.schedule import review_job, review_trigger

            job = review_job(self.settings, self.model, self.engine, self.clock)
            trigger = review_trigger(self.settings.review_schedule)
            scheduler.add_job(self._safe(job), trigger, id="weekly-review", executor="control")
        scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES)
        # A skipped run is a metric, not a log line per occurrence: slow probes are skipped, never stacked.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        if self.traces.interval is not None:
            # Trace signals are recomputed from persisted journeys, which also expire here.
            scheduler.add_job(
                self._safe(self.traces.refresh),
                "interval",
                seconds=self.traces.interval / self.speed,
                id="traces",
                executor="control",
            )
        scheduler.start()
        self.scheduler = scheduler
        log.info("flowhealth started: %d probes scheduled", len(scheduled_signals(self.model)))

    def evaluate_and_deliver(self) -> None:
        """One evaluation cycle, then at once a delivery pass for what it queued.

        Waiting for the next scheduled delivery pass added up to its interval to every
        notification's latency; the scheduled passes remain for retries and backoff.
        """
        self.evaluator.evaluate()
        self.worker.run_once()

    def _on_skipped(self, event: JobEvent) -> None:
        # The scheduler skipped a whole slot: none of its probes ran.
        for flow, signal in self._slot_keys.get(str(event.job_id), ()):
            self.metrics.probe_skipped.labels(flow, signal).inc()

    @staticmethod
    def _safe(job: Any) -> Any:
        def run() -> None:
            try:
                job()
            except StoreError as exc:
                # The database is away (restart, failover): say so once per run, the next run retries.
                log.warning("%s skipped: %s", getattr(job, "__qualname__", job), str(exc).splitlines()[0])
            except Exception:
                log.exception("%s failed", getattr(job, "__qualname__", job))

        run.__name__ = getattr(job, "__name__", "job")
        return run

    def prune(self) -> int:
        with transaction(self.engine) as session:
            return prune_samples(session, retention_cutoff(self.clock.now(), self.settings.sample_retention_days))

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.runner.close()

    def healthy(self) -> dict[str, Any]:
        """What /healthz reports: database reachable, scheduler running."""
        from sqlalchemy import text

        status: dict[str, Any] = {"scheduler": "running" if self.scheduler is not None else "stopped"}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as exc:
            status["database"] = f"unreachable: {type(exc).__name__}"
        status["status"] = "ok" if status["database"] == "ok" else "degraded"
        return status
