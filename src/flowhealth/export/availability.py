"""What flowhealth does with unknown values, in PromQL: probe-failing and no-data alerts, and
"unknown holds state" for the threshold alerts.

flowhealth exports a signal's value only while it is known: when its probe fails, the series
disappears from the scrape and `flowhealth_probe_up` drops to 0. A rule reading only the value
would resolve at once; the hold term below keeps a firing alert firing, with its last value, while
the probe is down. Where PromQL cannot follow flowhealth is listed in docs/decisions.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..links import Links, flow_dashboard_url
from ..model.durations import format_duration
from ..model.model import PROBE_FAILING, Model
from ..model.probes import PushProbe

PROBE_UP = "flowhealth_probe_up"
PROBE_FAILURES = "flowhealth_probe_consecutive_failures"
PROBE_LAST_SUCCESS = "flowhealth_probe_last_success_timestamp_seconds"
# How far back a held alert looks for its last value; past this a probe outage resolves it.
HOLD_LOOKBACK = timedelta(days=1)
# Pushed values older than this many `expect_every` count as unknown (as in the evaluator).
PUSH_STALE_FACTOR = 2
DEFAULT_NO_DATA_AFTER = timedelta(minutes=5)
NO_DATA_LABEL = ("reason", "no_data")


def _signal_selector(flow: str, signal: str) -> str:
    return f'{{flow="{flow}", signal="{signal}"}}'


def is_probed(model: Model, flow: str, signal: str) -> bool:
    """A signal measured by a probe flowhealth schedules (it has an interval and can fail)."""
    return getattr(model.signal(flow, signal).probe, "interval", None) is not None


def hold_term(model: Model, rule_id: str, series: str, ignoring: str) -> str | None:
    """While the probe is down, a firing alert keeps firing with the value it last had."""
    rule = model.rule(rule_id)
    if rule.no_data == "ok" or not is_probed(model, rule.flow, rule.signal):
        return None
    firing = f'ALERTS{{alertname="{rule_id}", alertstate="firing"}}'
    down = f"{PROBE_UP}{_signal_selector(rule.flow, rule.signal)} == 0"
    return (
        f"last_over_time({series}[{format_duration(HOLD_LOOKBACK)}])"
        f" and ignoring ({ignoring}) {firing}"
        f" and on (flow, signal) ({down})"
    )


def unknown_expr(model: Model, flow: str, signal: str) -> str | None:
    """When flowhealth counts the signal's value as unknown, as far as the scrape shows it."""
    probe = model.signal(flow, signal).probe
    where = _signal_selector(flow, signal)
    if isinstance(probe, PushProbe):
        if probe.expect_every is None:
            return None
        horizon = probe.expect_every.total_seconds() * PUSH_STALE_FACTOR
        return f"time() - {PROBE_LAST_SUCCESS}{where} > {horizon:g}"
    if is_probed(model, flow, signal):
        return f"{PROBE_UP}{where} == 0"
    return None


def no_data_after(model: Model, rule_id: str) -> timedelta:
    """The evaluator's `no_data_after`: the rule's, else the signal's staleness, else 5 minutes."""
    rule = model.rule(rule_id)
    if rule.no_data_after is not None:
        return rule.no_data_after
    probe = model.signal(rule.flow, rule.signal).probe
    if isinstance(probe, PushProbe):
        return probe.expect_every * PUSH_STALE_FACTOR if probe.expect_every else DEFAULT_NO_DATA_AFTER
    interval: timedelta | None = getattr(probe, "interval", None)
    return interval * 3 if interval is not None else DEFAULT_NO_DATA_AFTER


def _links(model: Model, rule_id: str, links: Links) -> dict[str, str]:
    rule = model.rule(rule_id)
    return {
        "runbook_url": links.runbook(rule.runbook),
        "dashboard_url": flow_dashboard_url(links.grafana_url, rule.flow),
    }


def no_data_rule(model: Model, rule_id: str, links: Links, labels: dict[str, str]) -> dict[str, Any] | None:
    """A rule with `no_data: alerting` fires under its own name, labelled reason="no_data"."""
    rule = model.rule(rule_id)
    condition = unknown_expr(model, rule.flow, rule.signal) if rule.no_data == "alerting" else None
    if condition is None:
        return None
    after = format_duration(no_data_after(model, rule_id))
    # A firing threshold alert holds through the outage instead, as in flowhealth.
    firing = f'ALERTS{{alertname="{rule_id}", alertstate="firing", {NO_DATA_LABEL[0]}!="{NO_DATA_LABEL[1]}"}}'
    return {
        "alert": rule_id,
        "expr": f"{condition} unless on (flow, signal) {firing}",
        "for": after,
        "labels": {**labels, NO_DATA_LABEL[0]: NO_DATA_LABEL[1]},
        "annotations": {
            "summary": f"No data for {rule.flow}/{rule.signal} for {after}: {rule_id} cannot be evaluated",
            "description": " ".join(rule.business_impact.replace("{", "(").replace("}", ")").split()),
            "value": "no data",
            **_links(model, rule_id, links),
        },
    }


def probe_failing_rules(model: Model, flow_id: str, links: Links) -> list[dict[str, Any]]:
    """flowhealth's built-in probe-failing alert per probed signal of the flow, owned by its owner."""
    rules = []
    for builtin_id in model.builtin_rules_of(flow_id):
        rule = model.builtin_rules[builtin_id]
        _, threshold = model.rule_threshold(builtin_id)
        where = _signal_selector(rule.flow, rule.signal)
        rules.append(
            {
                "alert": PROBE_FAILING,
                "expr": f"{PROBE_FAILURES}{where} > {threshold:g}",
                "labels": {
                    "severity": rule.severity,
                    "team": model.rule_owner(builtin_id),
                    "flow": rule.flow,
                    "signal": rule.signal,
                },
                "annotations": {
                    "summary": (
                        f"flowhealth cannot measure {rule.flow}/{rule.signal}: "
                        "its probe failed {{ $value | humanize }} times in a row"
                    ),
                    "description": " ".join(rule.business_impact.split()),
                    "value": "{{ $value | humanize }} failed runs",
                    **_links(model, builtin_id, links),
                },
            }
        )
    return rules
