"""Which of a team's channels hear about an incident of a given severity.

Slack (the team's channel) hears everything, as before receivers existed. Every other receiver
takes the severities it lists; an email receiver with ``digest: true`` takes non-critical
severities only in its daily digest. Only messages that say something (open, and updates that
carry notices) fan out: a picture-only edit is a Slack concept, and announcements posted to
other teams' channels (escalation, silences) stay in Slack, where those teams talk.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.receivers import EmailReceiver, Receiver
from ..model.schema import Team

SLACK = "slack"


@dataclass(frozen=True)
class Route:
    """One receiver of a team: its name in the model, and the outbox key it is delivered under."""

    team: str
    name: str
    receiver: Receiver

    @property
    def key(self) -> str:
        """`team/receiver`: the outbox's receiver column and the pacing key."""
        return f"{self.team}/{self.name}"

    @property
    def kind(self) -> str:
        return self.receiver.kind


def receiver_key(team: str, name: str) -> str:
    return f"{team}/{name}"


def immediate_routes(team_id: str, team: Team, severity: str) -> list[Route]:
    """Receivers told at once about an incident of this severity (besides Slack)."""
    routes = []
    for name, receiver in sorted(team.receivers.items()):
        if severity not in receiver.severities:
            continue
        if isinstance(receiver, EmailReceiver) and receiver.digest and severity != "critical":
            continue
        routes.append(Route(team_id, name, receiver))
    return routes


def digest_routes(team_id: str, team: Team) -> list[Route]:
    """Email receivers that gather non-critical incidents into a daily digest."""
    return [
        Route(team_id, name, receiver)
        for name, receiver in sorted(team.receivers.items())
        if isinstance(receiver, EmailReceiver) and receiver.digest
    ]


def find_route(teams: dict[str, Team], key: str) -> Route | None:
    """The route an outbox row's receiver column names, if the model still has it."""
    team_id, _, name = key.partition("/")
    team = teams.get(team_id)
    if team is None or name not in team.receivers:
        return None
    return Route(team_id, name, team.receivers[name])
