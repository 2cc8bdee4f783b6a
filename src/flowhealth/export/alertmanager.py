"""Owner routing as Alertmanager configuration: a Slack receiver per team, grouping by flow,
inhibition under rules that mark systems down, and maintenance windows as mute time intervals."""

from __future__ import annotations

from collections import Counter
from datetime import time
from typing import Any

from ..model.model import PROBE_FAILING, Model
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

# The Slack message of a group, close to flowhealth's own: what, how bad, owner, business impact,
# runbook. Every optional part is inside its `with`, so a missing annotation or a grouped alert
# with differing summaries never leaves a dangling ":" or "·".
SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}]'
    "{{ with .CommonLabels.flow }} {{ . }}{{ end }}"
    "{{ if .CommonAnnotations.summary }}: {{ .CommonAnnotations.summary }}"
    "{{ else if gt (len .Alerts) 1 }}: {{ len .Alerts }} alerts{{ end }}"
)
SLACK_TEXT = (
    "{{ range $i, $alert := .Alerts }}{{ if $i }}\n\n{{ end }}"
    '{{ if eq .Status "firing" }}:red_circle:{{ else }}:white_check_mark:{{ end }}'
    " *{{ or .Annotations.summary .Labels.alertname }}*{{ with .Labels.severity }} ({{ . }}){{ end }}"
    "{{ with .Annotations.value }}\n*Value:* {{ . }}{{ end }}"
    "{{ with .Labels.team }}\n*Owner:* {{ . }}{{ end }}"
    "{{ with .Annotations.description }}\n*Business impact:* {{ . }}{{ end }}"
    "{{ if or .Annotations.runbook_url .Annotations.dashboard_url }}\n{{ end }}"
    "{{ with .Annotations.runbook_url }}<{{ . }}|Runbook>{{ end }}"
    "{{ if and .Annotations.runbook_url .Annotations.dashboard_url }} · {{ end }}"
    "{{ with .Annotations.dashboard_url }}<{{ . }}|Dashboard>{{ end }}"
    "{{ end }}"
)
# flowhealth's built-in probe-failing alert is one per probed signal; grouping by rule means by
# signal here (the alert name is shared, as Prometheus users expect).
PROBE_FAILING_GROUP_BY = ["alertname", "flow", "signal"]


def default_team(model: Model) -> str:
    """Where alerts without a known team go: the team most others escalate to, else the first team."""
    escalations = Counter(t.escalation for t in model.teams.values() if t.escalation)
    if escalations:
        return sorted(escalations.items(), key=lambda item: (-item[1], item[0]))[0][0]
    return sorted(model.teams)[0]


def _hhmm(moment: time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def time_interval(window: MaintenanceWindow) -> list[dict[str, Any]]:
    """A window as Alertmanager time intervals; one crossing midnight becomes two ranges.

    Alertmanager wants start < end within a day, with "24:00" as the end of the day.
    """
    days = [_WEEKDAYS[d] for d in window.weekdays]
    start = _hhmm(window.start)
    end = "24:00" if window.until_midnight else _hhmm(window.end)
    if window.until_midnight or window.start < window.end:
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
    children.extend(_probe_failing_routes(model, team))
    children.extend(_window_routes(model))
    route: dict[str, Any] = {"receiver": team, "matchers": [f'team="{team}"']}
    if children:
        route["routes"] = children
    return route


def _flows_by_windows(model: Model, flows: list[str]) -> dict[tuple[str, ...], list[str]]:
    by_windows: dict[tuple[str, ...], list[str]] = {}
    for flow_id in sorted(flows):
        by_windows.setdefault(tuple(_windows_of_flow(model, flow_id)), []).append(flow_id)
    return by_windows


def _window_routes(model: Model) -> list[dict[str, Any]]:
    """Children muting the alerts of flows under maintenance windows."""
    return [
        {"matchers": [_flow_matcher(flows)], "mute_time_intervals": list(windows)}
        for windows, flows in sorted(_flows_by_windows(model, list(model.flows)).items())
        if windows
    ]


def _probe_failing_routes(model: Model, team: str) -> list[dict[str, Any]]:
    """The team's probe-failing alerts, grouped per signal, muted with their flow's windows."""
    flows = sorted({rule.flow for rule_id, rule in model.builtin_rules.items() if model.rule_owner(rule_id) == team})
    routes = []
    for windows, grouped in sorted(_flows_by_windows(model, flows).items()):
        route: dict[str, Any] = {
            "matchers": [f'alertname="{PROBE_FAILING}"', _flow_matcher(grouped)],
            "group_by": list(PROBE_FAILING_GROUP_BY),
        }
        if windows:
            route["mute_time_intervals"] = list(windows)
        routes.append(route)
    return routes


def _teamless_route(model: Model, fallback: str) -> dict[str, Any] | None:
    """Alerts without a known team reach the root receiver, muted by system windows like the rest."""
    children = _window_routes(model)
    if not children:
        return None
    # No matchers: this last route catches what no team route matched (Alertmanager's root route
    # itself cannot carry mute_time_intervals).
    return {"receiver": fallback, "routes": children}


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


def _flowhealth_receiver(team: str, flowhealth_url: str, token_file: str) -> dict[str, Any]:
    """A receiver that hands the team's alerts to flowhealth, which routes, groups and silences them."""
    return {
        "name": team,
        "webhook_configs": [
            {
                "url": flowhealth_url.rstrip("/") + "/api/v1/alertmanager",
                "send_resolved": True,
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


def alertmanager_config(
    model: Model, *, token_file: str = DEFAULT_TOKEN_FILE, flowhealth_url: str | None = None
) -> dict[str, Any]:
    """The whole alertmanager.yml; with `flowhealth_url`, every receiver is flowhealth's webhook
    (`token_file` then holds flowhealth's API token) instead of Slack."""
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
        "receivers": [
            _receiver(model, team, token_file)
            if flowhealth_url is None
            else _flowhealth_receiver(team, flowhealth_url, token_file)
            for team in sorted(model.teams)
        ],
    }
    if teamless := _teamless_route(model, fallback):
        config["route"]["routes"].append(teamless)
    if model.maintenance_windows:
        config["time_intervals"] = [
            {"name": name, "time_intervals": time_interval(window)}
            for name, window in sorted(model.maintenance_windows.items())
        ]
    return config
