"""The metrics catalogue: every name flowhealth exports, in one place.

Counters and histograms of things that happen in this process are plain prometheus-client
metrics. Values that are *state* (signal values, probe health, alerts, outbox backlog) are read
from the database at scrape time by a custom collector, so every replica and every restart
reports the same truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .alerting.baseline import Expected
from .alerting.baseline_live import current_expectations
from .metric_names import LATENCY_BUCKETS, SIGNAL_METRICS
from .metrics_baseline import band_edge, baseline_families
from .model.baseline_rule import BaselineRule
from .model.model import Model
from .model.schema import SignalKind
from .notify.needs_person import waiting_on_people
from .rendered_metrics import GaugeRows, Prefixed, RenderedCounter, RenderedHistogram
from .store.outbox import backlog
from .store.tables import AlertState, ProbeState, SignalValue
from .store.trend import TRENDS, queue_trends
from .store.types import labels_of

# No `*_created` series: the Prometheus text format ingests them as extra gauges nobody queries, and
# at a thousand probes they were a sixth of every scrape (see docs/decisions.md, issue 19).
disable_created_metrics()  # type: ignore[no-untyped-call]

PROBE_OUTCOMES = ("success", "timeout", "error", "invalid")
ALERT_STATES = ("pending", "firing")


class Metrics:
    """Process metrics, registered on the registry the app was given."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # Per-probe series (most of a scrape at a thousand probes) keep their text between scrapes.
        self.probe_runs = RenderedCounter(
            "flowhealth_probe_runs_total",
            "Probe runs by outcome.",
            ["flow", "signal", "kind", "outcome"],
            registry=registry,
        )
        self.probe_duration = RenderedHistogram(
            "flowhealth_probe_duration_seconds",
            "How long probe runs take.",
            ["flow", "signal", "kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.probe_skipped = RenderedCounter(
            "flowhealth_probe_runs_skipped_total",
            "Probe runs skipped because the previous run of the same probe was still going.",
            ["flow", "signal"],
            registry=registry,
        )
        self.evaluations = Counter(
            "flowhealth_rule_evaluations_total", "Rule evaluation cycles run.", registry=registry
        )
        self.evaluation_passes = Counter(
            "flowhealth_evaluation_passes_total",
            "Evaluation passes by what started them: new samples, the interval cycle, or a `for` running out.",
            ["trigger"],
            registry=registry,
        )
        self.evaluation_failures = Counter(
            "flowhealth_rule_evaluation_failures_total",
            "Rule evaluation cycles that failed.",
            registry=registry,
        )
        self.evaluation_duration = Histogram(
            "flowhealth_rule_evaluation_duration_seconds",
            "Time one evaluation cycle of all rules takes.",
            registry=registry,
        )
        self.trace_spans = Counter(
            "flowhealth_trace_spans_total",
            "Spans received on /v1/traces: accepted, redelivered (already seen) or rejected (no flow).",
            ["outcome"],
            registry=registry,
        )
        self.otlp_requests = Counter(
            "flowhealth_otlp_requests_total",
            "OTLP export requests by HTTP status code.",
            ["code"],
            registry=registry,
        )
        self.journey_latency = RenderedHistogram(
            "flowhealth_journey_stage_latency_seconds",
            "Stage-to-stage latency of business journeys (e.g. order placed to accepted by the ERP).",
            ["flow", "from_stage", "to_stage"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.journeys_expired = Counter(
            "flowhealth_journeys_expired_total",
            "Journeys abandoned (no span for the flow's horizon) and dropped.",
            ["flow"],
            registry=registry,
        )
        self.notifications = Counter(
            "flowhealth_notifications_total",
            "Notification delivery attempts by outcome and channel (slack, pagerduty, teams, webhook, email).",
            ["kind", "channel", "outcome"],
            registry=registry,
        )
        # Named as Prometheus names its own (prometheus_config_last_reload_successful), so the
        # same alert on a failed reload works for both.
        self.reload_successful = Gauge(
            "flowhealth_config_last_reload_successful",
            "Whether the last model reload succeeded (1) or was refused (0).",
            registry=registry,
        )
        self.reload_successful.set(1)
        self.reload_success_time = Gauge(
            "flowhealth_config_last_reload_success_timestamp_seconds",
            "When the model in use was loaded (start or successful reload).",
            registry=registry,
        )
        self.reload_success_time.set_to_current_time()
        self.replica_leader = Gauge(
            "flowhealth_replica_leader",
            "1 when this replica evaluates rules (the leader, or the only process on SQLite), else 0.",
            registry=registry,
        )
        self.replica_probes = Gauge(
            "flowhealth_replica_probes", "Probes this replica runs (its share among live replicas).", registry=registry
        )
        self.replicas = Gauge(
            "flowhealth_replicas", "Live replicas this replica sees, itself included.", registry=registry
        )

    def seed(self, model: Model) -> None:
        """Create every labelled series at zero so rate() works from the first scrape."""
        for ref in model.signals():
            if ref.signal.probe.kind == "trace":
                continue  # derived from spans, never run
            for outcome in PROBE_OUTCOMES:
                self.probe_runs.labels(ref.flow_id, ref.signal_id, ref.signal.probe.kind, outcome)
        for outcome in ("accepted", "redelivered", "rejected"):
            self.trace_spans.labels(outcome)
        for flow_id, flow in model.flows.items():
            if flow.traces is not None:
                self.journeys_expired.labels(flow_id)
        for trigger in ("sample", "interval", "for"):  # alerting.enums.PassTrigger
            self.evaluation_passes.labels(trigger)
        channels = {"slack"} | {r.kind for team in model.teams.values() for r in team.receivers.values()}
        for kind in ("firing", "resolved"):
            for channel in sorted(channels):
                for outcome in ("delivered", "retry"):
                    self.notifications.labels(kind, channel, outcome)


class StateCollector(Collector):
    """Reads signal values, probe health, alerts and the outbox from the store at scrape time."""

    def __init__(self, model: Model, engine: Engine, now: Callable[[], datetime]) -> None:
        self._model = model
        self._engine = engine
        self._now = now
        # The model does not change while the collector lives: flowhealth_flow_info is built once.
        self._info = self._flow_info()
        self._labels: dict[str, dict[str, str]] = {}
        self._prefixes: dict[Prefixed, str] = {}  # line prefixes of state series, kept between scrapes

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # state metrics are dynamic; skip describe-time collection

    def collect(self) -> Iterator[Metric]:
        model = self._model
        # Plain rows of the columns used, not ORM objects: a scrape reads thousands of them.
        tables: tuple[Any, ...] = (SignalValue, ProbeState, AlertState)
        values_t, states_t, alerts_t = (t.__table__.c for t in tables)
        with Session(self._engine) as session:
            conn = session.connection()
            values = conn.execute(select(values_t.flow, values_t.signal, values_t.labels, values_t.value)).all()
            states = conn.execute(
                select(
                    states_t.flow,
                    states_t.signal,
                    states_t.kind,
                    states_t.last_outcome,
                    states_t.consecutive_failures,
                    states_t.last_success_at,
                )
            ).all()
            alerts = conn.execute(select(alerts_t.rule, alerts_t.state, alerts_t.owner)).all()
            pending_count, oldest = backlog(session)
            on_people = waiting_on_people(session)
            trends = queue_trends(session, model, self._now())
            series: dict[tuple[str, str], list[str]] = {}
            for row in values:
                series.setdefault((row.flow, row.signal), []).append(row.labels)
            expectations = current_expectations(session, model, series, self._now())
        yield from self._signals(values)
        yield self._trends(trends)
        yield from self._probes(states)
        yield from self._alerts(alerts)
        yield from self._thresholds({rule_id: (rule, e) for rule_id, rule, e in expectations})
        yield from baseline_families(expectations)
        outbox = GaugeMetricFamily("flowhealth_outbox_pending_messages", "Notifications not delivered yet.")
        outbox.add_metric([], pending_count)
        yield outbox
        held = GaugeMetricFamily(
            "flowhealth_notifications_waiting",
            "Notifications held by an error a person must fix (bot not in channel, bad token, missing scope).",
            labels=["receiver", "reason"],
        )
        for (receiver, reason), count in sorted(on_people.items()):
            held.add_metric([receiver, reason.value], count)
        yield held
        age = GaugeMetricFamily(
            "flowhealth_outbox_oldest_pending_age_seconds",
            "How long the oldest undelivered notification has waited.",
        )
        age.add_metric([], max(0.0, (self._now() - oldest).total_seconds()) if oldest else 0.0)
        yield age
        yield self._info

    def _labels_of(self, key: str) -> dict[str, str]:
        """Parsed label sets, remembered: the same few keys come back on every scrape."""
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) > 100_000:
                self._labels.clear()
            labels = self._labels[key] = labels_of(key)
        return labels

    def _flow_info(self) -> GaugeMetricFamily:
        model = self._model
        info = GaugeMetricFamily(
            "flowhealth_flow_info",
            "Flows of the model with their owner and latency class.",
            labels=["flow", "team", "object", "latency_class", "criticality", "pattern"],
        )
        for flow_id, flow in sorted(model.flows.items()):
            info.add_metric(
                [
                    flow_id,
                    flow.owner,
                    flow.object,
                    flow.latency_class.value,
                    flow.criticality,
                    flow.pattern,
                ],
                1,
            )
        return info

    def _gauge(self, name: str, documentation: str, labelnames: Sequence[str]) -> GaugeRows:
        if len(self._prefixes) > 200_000:
            self._prefixes.clear()
        return GaugeRows(name, documentation, labelnames, self._prefixes)

    def _signals(self, values: Sequence[Any]) -> Iterator[Metric]:
        rows_by_kind: dict[SignalKind, list[tuple[dict[str, str], float]]] = {}
        for row in values:
            flow = self._model.flows.get(row.flow)
            if flow is None or row.signal not in flow.signals or row.value is None:
                continue  # unknown values are absent, never a frozen number
            kind = flow.signals[row.signal].kind
            labels = {"flow": row.flow, "signal": row.signal, **self._labels_of(row.labels)}
            rows_by_kind.setdefault(kind, []).append((labels, row.value))
        for kind in sorted(rows_by_kind):
            rows = rows_by_kind[kind]
            names = ["flow", "signal", *sorted({name for labels, _ in rows for name in labels} - {"flow", "signal"})]
            family = self._gauge(*SIGNAL_METRICS[kind], names)
            for labels, value in rows:
                family.add([labels.get(n, "") for n in names], value)
            yield family.family()

    def _trends(self, trends: dict[tuple[str, str, str], str]) -> Metric:
        names = sorted({n for (_, _, key) in trends for n in self._labels_of(key)} - {"flow", "signal", "trend"})
        family = self._gauge(
            "flowhealth_flow_queue_trend",
            "Trend of a queue depth over its last samples: 1 for the current one of draining, growing, stalled, empty, unknown.",
            ["flow", "signal", *names, "trend"],
        )
        for (flow, signal, key), current in sorted(trends.items()):
            labels = self._labels_of(key)
            values = [flow, signal, *(labels.get(n, "") for n in names)]
            for trend in TRENDS:
                family.add([*values, trend], float(trend == current))
        return family.family()

    def _probes(self, states: Sequence[Any]) -> Iterator[Metric]:
        labels = ["flow", "signal", "kind"]
        up = self._gauge("flowhealth_probe_up", "1 when the probe's last run succeeded.", labels)
        last = self._gauge(
            "flowhealth_probe_last_success_timestamp_seconds", "When the probe last succeeded (Unix time).", labels
        )
        failures = self._gauge(
            "flowhealth_probe_consecutive_failures", "Failed runs since the probe last succeeded.", labels
        )
        for state in states:
            key = (state.flow, state.signal, state.kind)
            up.add(key, 1.0 if state.last_outcome == "success" else 0.0)
            failures.add(key, state.consecutive_failures)
            if state.last_success_at is not None:
                last.add(key, state.last_success_at.timestamp())
        yield from (up.family(), last.family(), failures.family())

    def _alerts(self, alerts: Sequence[Any]) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "flowhealth_alerts",
            "Alerts that are pending or firing (1 per alert series), like Prometheus' ALERTS.",
            labels=["alertname", "flow", "signal", "severity", "team", "alertstate"],
        )
        for alert in alerts:
            rule = self._model.rules.get(alert.rule)
            if rule is None or alert.state not in ALERT_STATES:
                continue
            family.add_metric([alert.rule, rule.flow, rule.signal, rule.severity, alert.owner, alert.state], 1)
        yield family

    def _thresholds(self, baselines: dict[str, tuple[BaselineRule, Expected]]) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "flowhealth_rule_threshold",
            "The threshold of each alert rule, for threshold lines on dashboards.",
            labels=["alertname", "flow", "signal", "direction", "severity"],
        )
        for rule_id, rule in sorted(self._model.rules.items()):
            direction, threshold = self._model.rule_threshold(rule_id)
            if rule_id in baselines:
                # The threshold moves with the time of week: the band's edge now (its floor while learning).
                threshold = band_edge(*baselines[rule_id], threshold)
            family.add_metric([rule_id, rule.flow, rule.signal, direction, rule.severity], threshold)
        yield family
