"""Stage 1 of the incident pipeline: classify each firing alert and place it in an incident.

Pure functions over the model and one cycle's facts (`Context`): no database, no clock.
An alert is active, held (a maintenance window covers a system of its flow), silenced, or
suppressed (a system it needs is down, and that outage has its own incident). Grouping picks the
incident an alert joins, and flood control sends a team's sixth new incident of two minutes into
one storm incident instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..model.model import Model
from ..store.tables import AlertState, Incident, Silence
from .baseline import Expected
from .calendar import window_active
from .enums import AlertState as State
from .enums import IncidentStatus, MemberStatus
from .silences import identity, silencing
from .view import Member

STORM_THRESHOLD = 5  # new incidents of one team within STORM_WINDOW before flood control
STORM_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class Classification:
    status: MemberStatus
    silence: Silence | None = None
    note: str | None = None  # why it is not active, e.g. "silenced by carol"


@dataclass
class Context:
    """What holds for every alert in this cycle: time, silences, held and down systems."""

    now: datetime
    silences: list[Silence]
    held_systems: dict[str, str]  # system -> maintenance window id
    down: dict[str, AlertState] = field(default_factory=dict)  # system -> alert marking it down
    by_incident: dict[int, list[AlertState]] = field(default_factory=dict)
    classified: dict[int, Classification] = field(default_factory=dict)  # id(state) -> result
    expected: dict[tuple[str, str], Expected] = field(default_factory=dict)  # baseline alerts by (rule, labels)

    def index(self, states: Iterable[AlertState]) -> None:
        self.by_incident.clear()
        for state in states:
            if state.incident_id is not None:
                self.by_incident.setdefault(state.incident_id, []).append(state)


def held_systems(model: Model, now: datetime) -> dict[str, str]:
    """Systems under an active maintenance window, with the window's id."""
    return {
        system: window_id
        for window_id, window in sorted(model.maintenance_windows.items())
        if window_active(window, now)
        for system in window.systems
    }


def build_context(model: Model, states: list[AlertState], silences: list[Silence], now: datetime) -> Context:
    """The cycle's context; systems are down when an active alert marking them down fires."""
    ctx = Context(now, silences, held_systems(model, now))
    for state in states:
        rule = model.rule(state.rule)
        # Uncached on purpose: `down` is still being filled, and classify() memoizes.
        if (
            state.state == State.FIRING
            and rule.marks_down
            and _classify(model, state, ctx).status == MemberStatus.ACTIVE
        ):
            for system in rule.marks_down:
                ctx.down.setdefault(system, state)
    ctx.index(states)
    return ctx


def classify(model: Model, state: AlertState, ctx: Context) -> Classification:
    """active, held (maintenance), silenced, or suppressed (a system it needs is down)."""
    known = ctx.classified.get(id(state))
    if known is None or not ctx.down:
        known = ctx.classified[id(state)] = _classify(model, state, ctx)
    return known


def _classify(model: Model, state: AlertState, ctx: Context) -> Classification:
    rule = model.rule(state.rule)
    systems = model.flow_systems(rule.flow)
    for system in systems:
        if system in ctx.held_systems:
            return Classification(MemberStatus.HELD, note=f"maintenance window {ctx.held_systems[system]}")
    silence = silencing(ctx.silences, identity(model, state.rule, state.owner))
    if silence is not None:
        return Classification(MemberStatus.SILENCED, silence, f"silenced by {silence.author}")
    for system in systems:
        parent = ctx.down.get(system)
        if parent is not None and system not in rule.marks_down:
            return Classification(MemberStatus.SUPPRESSED, note=f"{system} is down ({parent.rule})")
    return Classification(MemberStatus.ACTIVE)


def members(model: Model, incident: Incident, ctx: Context) -> list[Member]:
    """The alerts of an incident with their status; alerts that cleared since it opened stay listed."""
    out = []
    for state in ctx.by_incident.get(incident.id or -1, []):
        if state.state != State.FIRING:
            if state.resolved_at is not None and state.resolved_at >= incident.opened_at:
                out.append(Member(state, MemberStatus.RESOLVED, expected=ctx.expected.get((state.rule, state.labels))))
            continue
        c = classify(model, state, ctx)
        out.append(Member(state, c.status, c.silence, c.note, ctx.expected.get((state.rule, state.labels))))
    return out


def suppressed_under(model: Model, incident: Incident, states: list[AlertState], ctx: Context) -> list[AlertState]:
    """Firing alerts of other incidents held because a system this incident marks down is down."""
    parents = {id(s) for s in ctx.down.values() if s.incident_id == incident.id}
    if not parents:
        return []
    out = []
    for state in states:
        if state.state == State.FIRING and classify(model, state, ctx).status == MemberStatus.SUPPRESSED:
            systems = model.flow_systems(model.rule(state.rule).flow)
            if any(id(ctx.down[s]) in parents for s in systems if s in ctx.down):
                out.append(state)
    return out


# -- grouping ---------------------------------------------------------------------------------


def storm_key(team: str) -> str:
    return f"{team}|storm"


def group_key(model: Model, state: AlertState) -> str:
    """The owner and the values of the rule's group_by labels: alerts with one key share an incident."""
    rule = model.rule(state.rule)
    values = {"flow": rule.flow, "rule": state.rule, "team": state.owner, "signal": f"{rule.flow}/{rule.signal}"}
    return f"{state.owner}|" + ",".join(f"{key}={values[key]}" for key in sorted(rule.group_by))


def group_matchers(group_key: str) -> dict[str, str]:
    """The flow and rule an incident's group key names, where it names them."""
    _, _, groups = group_key.partition("|")
    out: dict[str, str] = {}
    for part in groups.split(","):
        key, _, value = part.partition("=")
        if key == "signal":
            out["flow"] = value.split("/", 1)[0]
        elif key in ("flow", "rule"):
            out[key] = value
    return out


def placement(key: str, team: str, open_incidents: list[Incident], now: datetime) -> str:
    """The group key an alert with `key` goes under: its own, or the team's storm incident.

    Flood control: past a handful of new incidents in two minutes a team gets one storm
    message, not 500.
    """
    keys = {i.group_key for i in open_incidents if i.status == IncidentStatus.OPEN}
    if key in keys:
        return key
    storm = storm_key(team)
    recent = sum(
        1
        for i in open_incidents
        if i.team == team and i.opened_at >= now - STORM_WINDOW and not i.group_key.endswith("|storm")
    )
    return storm if storm in keys or recent >= STORM_THRESHOLD else key


def quiet_after_manual_resolve(state: AlertState, previous: Incident | None) -> bool:
    """Resolved by a person while still firing: stays quiet until it clears and fires anew."""
    return bool(
        previous is not None
        and previous.resolved_by
        and previous.resolved_at
        and state.firing_since
        and state.firing_since <= previous.resolved_at
    )
