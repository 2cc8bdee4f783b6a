"""`flowhealth routes test`: who would be told about a rule firing, where, and when escalation starts.

The native model's answer to ``amtool config routes test``: it follows the same code the incident
pipeline does (owner resolution, maintenance windows, business hours, receivers by severity), so
what it prints is what would happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..model.model import Model
from ..model.receivers import EmailReceiver
from .calendar import in_business_hours
from .classify import held_systems
from .digest import digest_timezone
from .routing import digest_routes, immediate_routes


@dataclass(frozen=True)
class Destination:
    receiver: str  # slack, or the receiver's name in the model
    kind: str  # slack, pagerduty, teams, webhook, email
    target: str  # the channel, service or address, secrets left as their ${ENV} references
    when: str  # "at once", or "in the daily digest at 08:00 Europe/Berlin"


@dataclass(frozen=True)
class RoutePlan:
    rule: str
    flow: str
    severity: str
    team: str
    at: datetime
    held_by: str | None  # maintenance window holding the alert at `at`, if any
    destinations: list[Destination] = field(default_factory=list)
    escalation_team: str | None = None
    escalate_after: timedelta | None = None
    escalates_now: bool = True  # false outside business hours for non-critical incidents

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "flow": self.flow,
            "severity": self.severity,
            "team": self.team,
            "at": self.at.isoformat(),
            "held_by_maintenance": self.held_by,
            "destinations": [d.__dict__ for d in self.destinations],
            "escalation": None
            if self.escalation_team is None
            else {
                "team": self.escalation_team,
                "after_seconds": self.escalate_after.total_seconds() if self.escalate_after else None,
                "escalates_at_this_time": self.escalates_now,
            },
        }


def route_plan(model: Model, rule_id: str, at: datetime, severity: str | None = None) -> RoutePlan:
    """Where an alert of `rule_id` would go at `at` (KeyError: no such rule)."""
    rule = model.rule(rule_id)
    level = severity or rule.severity
    team_id = model.rule_owner(rule_id)
    team = model.teams[team_id]
    held = held_systems(model, at)
    held_by = next((held[s] for s in model.flow_systems(rule.flow) if s in held), None)
    destinations = [Destination("slack", "slack", team.slack_channel, "at once")]
    for route in immediate_routes(team_id, team, level):
        destinations.append(Destination(route.name, route.kind, _target(route.receiver), "at once"))
    if level != "critical":
        for route in digest_routes(team_id, team):
            receiver = route.receiver
            if level in receiver.severities and isinstance(receiver, EmailReceiver):
                when = f"in the daily digest at {receiver.digest_at:%H:%M} {digest_timezone(receiver, team)}"
                destinations.append(Destination(route.name, route.kind, _target(receiver), when))
    after = min([team.escalate_after, *([rule.escalate_after] if rule.escalate_after else [])])
    return RoutePlan(
        rule=rule_id,
        flow=rule.flow,
        severity=level,
        team=team_id,
        at=at,
        held_by=held_by,
        destinations=destinations,
        escalation_team=team.escalation,
        escalate_after=after if team.escalation else None,
        escalates_now=level == "critical" or in_business_hours(team.business_hours, at),
    )


def _target(receiver: object) -> str:
    for attribute in ("routing_key", "url", "to"):
        value = getattr(receiver, attribute, None)
        if value:
            return ", ".join(value) if isinstance(value, list) else str(value)
    return ""
