"""Owner routing as Alertmanager configuration: a Slack receiver per team, grouping by flow,
inhibition under rules that mark systems down, and maintenance windows as mute time intervals."""

from __future__ import annotations

from collections import Counter
from datetime import time
from typing import Any

from ..model.model import Model
from ..model.schema import MaintenanceWindow

# Slack's Web API with the bot token flowhealth itself uses; the token is read from a file.
SLACK_API_URL = "https://slack.com/api/chat.postMessage"
DEFAULT_TOKEN_FILE = "/run/secrets/slack_bot_token"

_WEEKDAYS = {
    "mon": "monday",
    "tue": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
_NEXT = {"mon": "tue", "tue": "wed", "wed": "thu", "thu": "fri", "fri": "sat", "sat": "sun", "sun": "mon"}
_GROUP_LABELS = {"flow": "flow", "rule": "alertname", "team": "team", "signal": "signal"}

SLACK_TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.flow }}: {{ .CommonAnnotations.summary }}'
SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}* ({{ .Labels.severity }})\n"
    "{{ .Annotations.description }}\n"
    "<{{ .Annotations.runbook_url }}|Runbook> · <{{ .Annotations.dashboard_url }}|Dashboard>\n{{ end }}"
)


def default_team(model: Model) -> str:
    """Where alerts without a known team go: the team most others escalate to, else the first team."""
    escalations = Counter(t.escalation for t in model.teams.values() if t.escalation)
    if escalations:
        return sorted(escalations.items(), key=lambda item: (-item[1], item[0]))[0][0]
    return sorted(model.teams)[0]


def _hhmm(moment: time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def time_interval(window: MaintenanceWindow) -> list[dict[str, Any]]:
    """A window as Alertmanager time intervals; one crossing midnight becomes two ranges."""
    days = [_WEEKDAYS[d] for d in window.weekdays]
    start, end = _hhmm(window.start), _hhmm(window.end)
    if window.start < window.end:
        return [{"weekdays": days, "times": [{"start_time": start, "end_time": end}], "location": window.timezone}]
    next_days = [_WEEKDAYS[_NEXT[d]] for d in window.weekdays]
    return [
        {"weekdays": days, "times": [{"start_time": start, "end_time": "24:00"}], "location": window.timezone},
        {"weekdays": next_days, "times": [{"start_time": "00:00", "end_time": end}], "location": window.timezone},
    ]


def _windows_of_flow(model: Model, flow_id: str) -> list[str]:
    systems = set(model.flow_systems(flow_id))
    return sorted(name for name, w in model.maintenance_windows.items() if systems & set(w.systems))


def _flow_matcher(flows: list[str]) -> str:
    return f'flow=~"{"|".join(sorted(flows))}"'


def _team_route(model: Model, team: str) -> dict[str, Any]:
    """A team's route; children for rules grouped differently and for flows under maintenance windows."""
    children: list[dict[str, Any]] = []
    for rule_id in sorted(model.rules):
        rule = model.rules[rule_id]
        if model.rule_owner(rule_id) != team or rule.group_by == ["flow"]:
            continue
        child: dict[str, Any] = {
            "matchers": [f'alertname="{rule_id}"'],
            "group_by": [_GROUP_LABELS[k] for k in rule.group_by],
        }
        if windows := _windows_of_flow(model, rule.flow):
            child["mute_time_intervals"] = windows
        children.append(child)
    by_windows: dict[tuple[str, ...], list[str]] = {}
    for flow_id in sorted(model.flows):
        if windows := _windows_of_flow(model, flow_id):
            by_windows.setdefault(tuple(windows), []).append(flow_id)
    for windows_key, flows in sorted(by_windows.items()):
        children.append({"matchers": [_flow_matcher(flows)], "mute_time_intervals": list(windows_key)})
    route: dict[str, Any] = {"receiver": team, "matchers": [f'team="{team}"']}
    if children:
        route["routes"] = children
    return route


def _receiver(model: Model, team: str, token_file: str) -> dict[str, Any]:
    return {
        "name": team,
        "slack_configs": [
            {
                "channel": model.teams[team].slack_channel,
                "send_resolved": True,
                "title": SLACK_TITLE,
                "text": SLACK_TEXT,
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": token_file}},
            }
        ],
    }


def _inhibit_rules(model: Model) -> list[dict[str, Any]]:
    """An alert marking a system down holds the alerts of every flow touching that system."""
    rules = []
    for rule_id in sorted(model.rules):
        systems = model.rules[rule_id].marks_down
        flows = sorted({f for system in systems for f in model.flows_touching(system)})
        if flows:
            rules.append(
                {
                    "source_matchers": [f'alertname="{rule_id}"'],
                    "target_matchers": [_flow_matcher(flows)],
                }
            )
    return rules


def alertmanager_config(model: Model, *, token_file: str = DEFAULT_TOKEN_FILE) -> dict[str, Any]:
    """The whole alertmanager.yml."""
    fallback = default_team(model)
    config: dict[str, Any] = {
        "global": {"resolve_timeout": "5m", "slack_api_url": SLACK_API_URL},
        "route": {
            "receiver": fallback,
            "group_by": ["flow"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [_team_route(model, team) for team in sorted(model.teams)],
        },
        "inhibit_rules": _inhibit_rules(model),
        "receivers": [_receiver(model, team, token_file) for team in sorted(model.teams)],
    }
    if model.maintenance_windows:
        config["time_intervals"] = [
            {"name": name, "time_intervals": time_interval(window)}
            for name, window in sorted(model.maintenance_windows.items())
        ]
    return config
