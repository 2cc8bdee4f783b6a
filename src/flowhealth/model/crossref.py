"""Cross-reference checks that run after every file passed its schema."""

from __future__ import annotations

from ..errors import ModelIssue
from .base import Strict
from .baseline_rule import BaselineRule
from .business_calendar import overlaps
from .checker import Checker, Origins
from .factcheck import check_facts
from .model import Model
from .probes import ContractProbe, PrometheusProbe, PushProbe, ReconcileProbe, SqlProbe, SqlSource, TraceProbe
from .templates import check_template
from .thresholds import THRESHOLD_FIELDS, threshold_problem
from .tracecheck import check_trace_signal

RESERVED_LABELS = frozenset({"flow", "signal", "alertname", "severity", "team", "rule", "job", "instance"})


def check_references(model: Model, origins: Origins, broken: set[tuple[str, str]] | None = None) -> list[ModelIssue]:
    """Every name a file mentions must be defined somewhere, and rule texts must render."""
    c = Checker(model, origins, broken or set())
    teams, systems = model.teams, model.systems
    for team_id, team in model.teams.items():
        c.must_exist("team", team.escalation, teams, ("teams", team_id, ("escalation",)))
        if team.escalation == team_id:
            c.report("teams", team_id, ("escalation",), "a team cannot escalate to itself")
        if team.business_hours is not None:
            c.timezone("teams", team_id, ("business_hours", "timezone"), team.business_hours.timezone)
    catch_all = sorted(t for t, team in model.teams.items() if team.alertmanager_catch_all)
    for team_id in catch_all[1:]:
        c.report(
            "teams", team_id, ("alertmanager_catch_all",), f"only one team can be the catch-all ({catch_all[0]} is)"
        )
    for system_id, system in model.systems.items():
        c.must_exist("team", system.owner, teams, ("systems", system_id, ("owner",)))
    for flow_id, flow in model.flows.items():
        c.must_exist("team", flow.owner, teams, ("flows", flow_id, ("owner",)))
        c.must_exist("system", flow.source_of_truth, systems, ("flows", flow_id, ("source_of_truth",)))
        for i, target in enumerate(flow.targets):
            c.must_exist("system", target, systems, ("flows", flow_id, ("targets", i)))
        for mode, mode_owner in flow.failure_owners.items():
            c.must_exist("team", mode_owner, teams, ("flows", flow_id, ("failure_owners", mode)))
        for signal_id, signal in flow.signals.items():
            probe = signal.probe
            where = ("flows", flow_id, ("signals", signal_id, "probe"))
            for sub, connection in _probe_connections(probe):
                c.must_exist("connection", connection, model.connections, (where[0], where[1], (*where[2], *sub)))
            if isinstance(probe, SqlProbe | PrometheusProbe):
                for label in probe.label_columns:
                    if label in RESERVED_LABELS:
                        c.report(*where[:2], (*where[2], "label_columns"), f"label '{label}' is reserved")
            if isinstance(probe, TraceProbe):
                for sub, message in check_trace_signal(flow, signal.kind.value, probe):
                    c.report(*where[:2], (*where[2], *sub), message)
            elif not isinstance(probe, PushProbe) and probe.timeout >= probe.interval:
                c.report(*where[:2], (*where[2], "timeout"), "timeout must be shorter than interval")
    for rule_id, rule in model.rules.items():
        at = ("rules", rule_id)
        if not c.must_exist("flow", rule.flow, model.flows, (*at, ("flow",))):
            continue
        flow = model.flows[rule.flow]
        if c.must_exist(f"signal of flow '{rule.flow}'", rule.signal, flow.signals, (*at, ("signal",))):
            signal = flow.signals[rule.signal]
            written = c.raw_item("rules", rule_id)  # looked up once, not once per field
            for field in THRESHOLD_FIELDS:
                problem = threshold_problem(written.get(field), signal)
                if problem:
                    c.report(*at, (field,), problem)
            if isinstance(rule, BaselineRule):
                _check_baseline(c, rule_id, rule)
            elif rule.above is None and rule.below is None and not signal.kind.is_time:
                c.report(
                    *at,
                    ("above",),
                    f"a {signal.kind.value} signal has no default threshold: set 'above' or 'below'",
                )
        c.must_exist("runbook", rule.runbook, model.runbooks, (*at, ("runbook",)))
        c.must_exist("team", rule.owner, teams, (*at, ("owner",)))
        if rule.failure_mode is not None and rule.failure_mode not in flow.failure_owners and rule.owner is None:
            modes = ", ".join(sorted(flow.failure_owners)) or "none declared"
            c.report(
                *at,
                ("failure_mode",),
                f"flow '{rule.flow}' declares no owner for failure mode '{rule.failure_mode}' (declared: {modes})",
            )
        if rule.evidence is not None:
            c.must_exist(
                "connection",
                rule.evidence.connection,
                model.connections,
                (*at, ("evidence", "connection")),
            )
        for field in ("summary", "business_impact"):
            problem = check_template(getattr(rule, field))
            if problem:
                c.report(*at, (field,), problem)
        for label in rule.labels:
            if label in RESERVED_LABELS:
                c.report(*at, ("labels", label), f"label '{label}' is reserved")
    for rule_id, rule in model.rules.items():
        for i, down in enumerate(rule.marks_down):
            c.must_exist("system", down, systems, ("rules", rule_id, ("marks_down", i)))
        if rule.escalate_after is not None and rule.escalate_after.total_seconds() <= 0:
            c.report("rules", rule_id, ("escalate_after",), "escalate_after must be positive")
    for window_id, window in model.maintenance_windows.items():
        for i, held in enumerate(window.systems):
            c.must_exist("system", held, systems, ("maintenance_windows", window_id, ("systems", i)))
        c.timezone("maintenance_windows", window_id, ("timezone",), window.timezone)
        if window.start == window.end:
            c.report(
                "maintenance_windows",
                window_id,
                ("end",),
                "end equals start: the window would be empty (a whole day is 00:00 to 24:00)",
            )
    for calendar_id, calendar in model.calendars.items():
        for loc, message in overlaps(calendar):
            c.report("calendars", calendar_id, loc, message)
        entries = [("promotions", i, p.flows) for i, p in enumerate(calendar.promotions)]
        for section, i, flows in entries + [("closures", i, x.flows) for i, x in enumerate(calendar.closures)]:
            for j, flow_id in enumerate(flows):
                c.must_exist("flow", flow_id, model.flows, ("calendars", calendar_id, (section, i, "flows", j)))
    _check_runbook_owners(c, model)
    check_facts(c, model)
    return c.issues


def _check_baseline(c: Checker, rule_id: str, rule: BaselineRule) -> None:
    calendars = c.model.calendars
    if rule.baseline.calendar is not None:
        c.must_exist("calendar", rule.baseline.calendar, calendars, ("rules", rule_id, ("baseline", "calendar")))
    elif len(calendars) > 1:
        c.report(
            "rules",
            rule_id,
            ("baseline",),
            f"several calendars are defined ({', '.join(sorted(calendars))}): name one in baseline.calendar",
        )


def _check_runbook_owners(c: Checker, model: Model) -> None:
    # The Owner section must name a team that exists, so the page and the routing agree.
    for runbook in model.runbooks.values():
        body = runbook.sections.get("owner")
        if not body:
            continue
        words = set(body.replace("`", " ").replace(",", " ").split())
        teams = set(model.teams) | {name for section, name in c.broken if section == "teams"}
        if not words & teams:
            line = runbook.section_lines.get("owner", 1)
            known = ", ".join(sorted(model.teams)) or "none defined"
            c.issues.append(
                ModelIssue(
                    runbook.path,
                    line,
                    "owner",
                    f"the Owner section names no known team (known: {known})",
                )
            )


def _probe_connections(probe: Strict) -> list[tuple[tuple[str, ...], str]]:
    """(field path, connection name) of every named connection a probe reads."""
    if isinstance(probe, ReconcileProbe):
        return [
            ((side, "connection"), source.connection)
            for side, source in (("source", probe.source), ("target", probe.target))
            if hasattr(source, "connection")
        ]
    if isinstance(probe, ContractProbe) and isinstance(probe.source, SqlSource):
        return [(("source", "connection"), probe.source.connection)]
    # Asked of the class: `getattr` on a probe without the field goes through pydantic's slow
    # `__getattr__` and an AttributeError, 10,000 times for a model of pushed signals.
    if "connection" not in type(probe).model_fields:
        return []
    connection = getattr(probe, "connection", None)
    return [(("connection",), connection)] if isinstance(connection, str) else []
