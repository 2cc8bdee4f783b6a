"""One dashboard per flow: every signal against its thresholds, probes, alerts, runbooks and the owner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grafanalib.core as G

from ..export.recording import FLOW_STATUS, SIGNAL_STATUS
from ..links import OVERVIEW_UID, flow_dashboard_uid
from ..metric_names import SIGNAL_METRICS
from ..model.model import Model
from ..probes.registry import is_scheduled
from .baseline_band import band_overrides, band_queries
from .panels import (
    STATUS_MAPPINGS,
    Grid,
    Query,
    alert_annotation,
    kind_title,
    kind_unit,
    stat,
    state_timeline,
    text,
    threshold_line_override,
    thresholds,
    timeseries,
)
from .texts import KIND_STORIES, one_line, rule_condition
from .variables import datasource_variable, fixed_flow_variable

FLOW = 'flow="$flow"'


def _about(model: Model, flow_id: str, runbook_url: Callable[[str], str]) -> str:
    flow = model.flows[flow_id]
    team = model.teams[flow.owner]
    lines = [
        one_line(flow.description),
        "",
        f"* **Object:** {flow.object}; **from** {flow.source_of_truth} **to** {', '.join(flow.targets)} ({flow.pattern})",
        f"* **Latency promise:** {flow.latency_class.value}; **criticality:** {flow.criticality}",
        f"* **Owner:** {team.name or flow.owner} (`{flow.owner}`), {team.slack_channel}"
        + (f", on call {team.oncall}" if team.oncall else ""),
    ]
    lines += [
        f"* **{mode.replace('_', ' ')}** is owned by `{owner}`" for mode, owner in sorted(flow.failure_owners.items())
    ]
    rules = model.rules_of(flow_id)
    if rules:
        lines += ["", "| alert | signal | fires when | runbook |", "|---|---|---|---|"]
        lines += [
            f"| {r} | {model.rules[r].signal} | {rule_condition(model, r)} | "
            f"[{model.rules[r].runbook}]({runbook_url(model.rules[r].runbook)}) |"
            for r in rules
        ]
    return "\n".join(lines)


def _signal_panel(model: Model, flow_id: str, signal_id: str, runbook_url: Callable[[str], str]) -> G.TimeSeries:
    signal = model.signal(flow_id, signal_id)
    metric = SIGNAL_METRICS[signal.kind][0]
    selector = f'{FLOW}, signal="{signal_id}"'
    columns = list(getattr(signal.probe, "label_columns", []))
    legend = " ".join([signal_id, *(f"{{{{{c}}}}}" for c in columns)])
    rules = model.rules_of(flow_id, signal_id)
    queries = [Query(f"max without (instance, job) ({metric}{{{selector}}})", legend)]
    if rules:
        queries.append(
            Query(f"max without (instance, job) (flowhealth_rule_threshold{{{selector}}})", "threshold {{alertname}}")
        )
    overrides = [threshold_line_override("B")] if rules else []
    if any(model.is_baseline(r) for r in rules):
        queries += band_queries(selector)
        overrides += band_overrides()
    conditions = "; ".join(f"{r} fires {rule_condition(model, r)}" for r in rules) or "No alert rule watches it."
    runbooks = sorted({model.rules[r].runbook for r in rules})
    return timeseries(
        f"flow/{flow_id}/signal/{signal_id}",
        f"{signal_id} ({kind_title(signal.kind).lower()})",
        f"{one_line(signal.description)} {KIND_STORIES.get(signal.kind, '')} Alerts: {conditions}",
        queries,
        unit=kind_unit(signal.kind),
        overrides=overrides,
        links=[{"title": f"Runbook: {rb}", "url": runbook_url(rb), "targetBlank": True} for rb in runbooks],
    )


def _probe_panels(flow_id: str) -> list[Any]:
    up = state_timeline(
        f"flow/{flow_id}/probe-state",
        "Probe state",
        "Whether each signal could be measured. A failed probe makes the signal unknown: its alert holds "
        "its state rather than resolving, so a broken probe never looks like recovery.",
        [Query(f"max by (signal) (flowhealth_probe_up{{{FLOW}}})", "{{signal}}")],
    )
    up.mappings = [
        {"type": "value", "options": {"0": {"text": "failing", "color": "red"}, "1": {"text": "up", "color": "green"}}}
    ]
    latency = timeseries(
        f"flow/{flow_id}/probe-latency",
        "Probe latency (95th percentile)",
        "How long measuring each signal takes. Slow probes load the source systems and, past their timeout, "
        "leave the signal unknown.",
        [
            Query(
                "histogram_quantile(0.95, sum by (signal, le) "
                f"(rate(flowhealth_probe_duration_seconds_bucket{{{FLOW}}}[$__rate_interval])))",
                "p95 {{signal}}",
            )
        ],
        unit="s",
    )
    return [up, latency]


def flow_detail(model: Model, flow_id: str, runbook_url: Callable[[str], str]) -> G.Dashboard:
    """The detail dashboard of one flow."""
    flow = model.flows[flow_id]
    grid = Grid()
    grid.add(
        text(
            f"flow/{flow_id}/about",
            "About this flow",
            "What the flow does, who owns it, and its alerts.",
            _about(model, flow_id, runbook_url),
        ),
        12,
        9,
    )
    grid.add(
        stat(
            f"flow/{flow_id}/status",
            "Flow status",
            "The worst state among this flow's signals: in breach while any alert fires.",
            [Query(f"max({FLOW_STATUS}{{{FLOW}}})", instant=True)],
            mappings=STATUS_MAPPINGS,
            no_value="unknown",
        ),
        4,
        9,
    )
    grid.add(
        stat(
            f"flow/{flow_id}/firing",
            "Firing alerts",
            "Alerts of this flow firing now; each one has a Slack message in its owner's channel.",
            [Query(f'count(flowhealth_alerts{{{FLOW}, alertstate="firing"}}) or vector(0)', instant=True)],
            steps=thresholds((None, "green"), (1, "red")),
        ),
        4,
        9,
    )
    grid.add(
        stat(
            f"flow/{flow_id}/failing-probes",
            "Failing probes",
            "Signals of this flow that could not be measured on the last try; their health is unknown.",
            [Query(f"count(flowhealth_probe_up{{{FLOW}}} == 0) or vector(0)", instant=True)],
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        4,
        9,
    )
    grid.row(f"flow/{flow_id}/row/signals", "Signals against their thresholds")
    for signal_id in sorted(flow.signals):
        grid.add(_signal_panel(model, flow_id, signal_id, runbook_url), 12, 8)
    grid.row(f"flow/{flow_id}/row/alerts", "Alerts and health")
    timelines = [
        state_timeline(
            f"flow/{flow_id}/signal-health",
            "Signal health",
            "When each signal was OK, pending, in breach or unknown.",
            [Query(f"max by (signal) ({SIGNAL_STATUS}{{{FLOW}}})", "{{signal}}")],
        )
    ]
    if model.rules_of(flow_id):
        timelines.append(
            state_timeline(
                f"flow/{flow_id}/alert-timeline",
                "Alert timeline",
                "When each alert rule of this flow was quiet, pending (condition true, waiting for its 'for') or firing.",
                [
                    Query(
                        f'max by (alertname) (3 * flowhealth_alerts{{{FLOW}, alertstate="firing"}}'
                        f' or 2 * flowhealth_alerts{{{FLOW}, alertstate="pending"}}'
                        f" or 0 * flowhealth_rule_threshold{{{FLOW}}})",
                        "{{alertname}}",
                    )
                ],
            )
        )
    for panel in timelines:
        grid.add(panel, 24 // len(timelines), max(5, len(flow.signals) + 3))
    if any(is_scheduled(s.probe) for s in flow.signals.values()):
        grid.row(f"flow/{flow_id}/row/probes", "Probes")
        for panel in _probe_panels(flow_id):
            grid.add(panel, 12, 7)
    runbooks = sorted({model.rules[r].runbook for r in model.rules_of(flow_id)})
    links = [
        G.DashboardLink(
            title="Hypercare overview", type="link", uri=f"/d/{OVERVIEW_UID}/", keepTime=True, icon="dashboard"
        )
    ]
    links += [
        G.DashboardLink(
            title=f"Runbook: {rb}", type="link", uri=runbook_url(rb), keepTime=False, targetBlank=True, icon="doc"
        )
        for rb in runbooks
    ]
    return G.Dashboard(
        title=f"flowhealth: {flow_id}",
        uid=flow_dashboard_uid(flow_id),
        description=one_line(flow.description),
        tags=["flowhealth", "flowhealth-flow", f"team:{flow.owner}"],
        panels=grid.panels,
        templating=G.Templating(list=[datasource_variable(), fixed_flow_variable(flow_id)]),
        annotations=G.Annotations(list=[alert_annotation(FLOW)]),
        links=links,
        time=G.Time("now-6h", "now"),
        refresh="1m",
        timezone="browser",
        graphTooltip=1,
    )
