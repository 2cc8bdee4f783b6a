"""The hypercare overview: every flow's health on one screen, for the weekly review and on-call."""

from __future__ import annotations

import grafanalib.core as G

from ..export.recording import FLOW_DASHBOARD_INFO, FLOW_STATUS, SIGNAL_INFO, SIGNAL_STATUS, STATUS_BREACH
from ..links import OVERVIEW_UID
from ..metric_names import SIGNAL_METRICS
from ..model.model import Model
from ..model.schema import SignalKind
from .panels import (
    DATASOURCE,
    STATUS_MAPPINGS,
    Grid,
    Query,
    alert_annotation,
    kind_title,
    kind_unit,
    panel_id,
    stat,
    state_timeline,
    targets,
    threshold_line_override,
    thresholds,
    timeseries,
)
from .texts import KIND_STORIES
from .variables import datasource_variable, flow_variable, team_variable

FLOWS = 'flow=~"$flow"'
ALERT_STEPS = thresholds((None, "green"), (1, "red"))


def _kinds(model: Model) -> list[SignalKind]:
    present = {ref.signal.kind for ref in model.signals()}
    return [kind for kind in SignalKind if kind in present]


def _headline(grid: Grid) -> None:
    interventions = SIGNAL_METRICS[SignalKind.INTERVENTIONS][0]
    amount = SIGNAL_METRICS[SignalKind.MISMATCH_AMOUNT][0]
    panels = [
        stat(
            "overview/flows-in-breach",
            "Flows in breach",
            "Flows with at least one firing alert: business objects are late, wrong or missing right now.",
            [Query(f"count({FLOW_STATUS}{{{FLOWS}}} == {STATUS_BREACH}) or vector(0)", instant=True)],
            steps=ALERT_STEPS,
        ),
        stat(
            "overview/firing-by-severity",
            "Firing alerts by severity",
            "Alerts firing now, by severity. Critical ones wake someone up; warnings wait for business hours.",
            [
                Query(
                    f'sum by (severity) (flowhealth_alerts{{alertstate="firing", {FLOWS}}})'
                    f" or sum by (severity) (0 * flowhealth_rule_threshold{{{FLOWS}}})",
                    legend="{{severity}}",
                    instant=True,
                )
            ],
            steps=ALERT_STEPS,
        ),
        stat(
            "overview/failing-probes",
            "Failing probes",
            "Signals whose last measurement failed. Their health is unknown, which is not the same as healthy.",
            [Query(f"count(flowhealth_probe_up{{{FLOWS}}} == 0) or vector(0)", instant=True)],
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        stat(
            "overview/manual-interventions",
            "Manual interventions (peak in range)",
            "Records people fixed by hand, at the highest point in the selected time range. "
            "Each one is work the integration should have done.",
            [Query(f"sum(max_over_time({interventions}{{{FLOWS}}}[$__range])) or vector(0)", instant=True)],
            steps=thresholds((None, "green"), (1, "yellow")),
        ),
        stat(
            "overview/mismatch-amount",
            "Unexplained amount (peak in range)",
            "Money the source and the target disagree about (e.g. settled payments versus the ERP ledger), "
            "per currency, at the highest point in the selected range. Finance cannot close while it is open.",
            [Query(f"sum by (currency) (max_over_time({amount}{{{FLOWS}}}[$__range]))", "{{currency}}", instant=True)],
            steps=thresholds((None, "green"), (0.01, "red")),
        ),
        stat(
            "overview/undelivered-notifications",
            "Undelivered notifications",
            "Alert messages not yet delivered to Slack. Above zero for long, owners are not being told.",
            [Query("max(flowhealth_outbox_pending_messages)", instant=True)],
            steps=thresholds((None, "green"), (1, "yellow")),
        ),
    ]
    for panel in panels:
        grid.add(panel, 4, 4)


def _status_table(model: Model) -> G.Table:
    """One row per flow joined from one query per signal kind, coloured by status."""
    kinds = _kinds(model)
    queries = [
        Query(f"max by (flow, team, dashboard_uid) ({FLOW_DASHBOARD_INFO}{{{FLOWS}}})", instant=True, table=True)
    ]
    queries += [
        Query(f'max by (flow) ({SIGNAL_STATUS}{{{FLOWS}, signal_kind="{kind.value}"}})', instant=True, table=True)
        for kind in kinds
    ]
    value = "Value #{}".format
    hidden = {"Time": True, value("A"): True, **{f"Time {n}": True for n in range(1, len(queries) + 1)}}
    renames = {"flow": "Flow", "team": "Owner"} | {value(chr(ord("B") + i)): kind_title(k) for i, k in enumerate(kinds)}
    link = "/d/${__data.fields.dashboard_uid}/?${__url_time_range}&var-flow=${__value.raw}"
    plain = {"id": "custom.cellOptions", "value": {"type": "auto"}}
    return G.Table(
        id=panel_id("overview/flow-status"),
        title="Flow status",
        description="One row per flow; each signal kind is a coloured cell: OK, pending (a rule is about to fire), "
        "in breach (an alert fires) or unknown (the probe failed). Click a flow for its detail dashboard.",
        dataSource=DATASOURCE,
        targets=targets(queries),
        mappings=STATUS_MAPPINGS,
        transformations=[
            {"id": "joinByField", "options": {"byField": "flow", "mode": "outer"}},
            {"id": "organize", "options": {"excludeByName": hidden, "renameByName": renames}},
        ],
        overrides=[
            {
                "matcher": {"id": "byName", "options": "Flow"},
                "properties": [
                    plain,
                    {"id": "links", "value": [{"title": "Open the flow's dashboard", "url": link}]},
                ],
            },
            {"matcher": {"id": "byName", "options": "Owner"}, "properties": [plain]},
            {
                "matcher": {"id": "byName", "options": "dashboard_uid"},
                "properties": [{"id": "custom.hidden", "value": True}],
            },
        ],
        extraJson={
            "fieldConfig": {"defaults": {"custom": {"align": "center", "cellOptions": {"type": "color-background"}}}}
        },
        sortBy=[G.TableSortByField(displayName="Flow")],
    )


def _trend(model: Model, kind: SignalKind) -> G.TimeSeries:
    metric = SIGNAL_METRICS[kind][0]
    columns = sorted(
        {
            c
            for ref in model.signals()
            if ref.signal.kind == kind
            for c in getattr(ref.signal.probe, "label_columns", [])
        }
    )
    legend = " ".join(["{{flow}}", "{{signal}}", *(f"{{{{{c}}}}}" for c in columns)])
    queries = [Query(f"max without (instance, job) ({metric}{{{FLOWS}}})", legend)]
    has_rules = any(model.signal(r.flow, r.signal).kind == kind for r in model.rules.values())
    if has_rules:
        queries.append(
            Query(
                f"max without (instance, job) (flowhealth_rule_threshold{{{FLOWS}}}"
                f' * on (flow, signal) group_left () {SIGNAL_INFO}{{signal_kind="{kind.value}"}})',
                "threshold {{alertname}}",
            )
        )
    return timeseries(
        f"overview/trend/{kind.value}",
        f"{kind_title(kind)} over time",
        KIND_STORIES.get(kind, SIGNAL_METRICS[kind][1]) + " Dashed red lines are the alert thresholds.",
        queries,
        unit=kind_unit(kind),
        overrides=[threshold_line_override("B")] if has_rules else [],
    )


def overview(model: Model) -> G.Dashboard:
    """The overview dashboard of every flow."""
    grid = Grid()
    grid.row("overview/row/now", "Right now")
    _headline(grid)
    grid.row("overview/row/status", "Flow status")
    grid.add(_status_table(model), 24, max(6, len(model.flows) + 3))
    grid.add(
        state_timeline(
            "overview/health-history",
            "Health history per flow",
            "When each flow was healthy, pending, in breach or unknown over the selected range: "
            "the timeline of the hypercare review.",
            [Query(f"max by (flow) ({FLOW_STATUS}{{{FLOWS}}})", "{{flow}}")],
        ),
        24,
        max(6, len(model.flows) + 2),
    )
    grid.row("overview/row/trends", "Trends with thresholds")
    for kind in _kinds(model):
        grid.add(_trend(model, kind), 12, 8)
    return G.Dashboard(
        title="flowhealth: hypercare overview",
        uid=OVERVIEW_UID,
        description="The business health of every integration flow: what is in breach, since when, and who owns it.",
        tags=["flowhealth"],
        panels=grid.panels,
        templating=G.Templating(list=[datasource_variable(), team_variable(), flow_variable()]),
        annotations=G.Annotations(list=[alert_annotation(FLOWS)]),
        links=[
            G.DashboardLink(
                title="Flows",
                type="dashboards",
                tags=["flowhealth-flow"],
                asDropdown=True,
                keepTime=True,
                includeVars=False,
            )
        ],
        time=G.Time("now-24h", "now"),
        refresh="1m",
        timezone="browser",
        graphTooltip=1,
    )
