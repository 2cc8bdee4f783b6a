"""The model exported for the Prometheus ecosystem: rule files, their tests, Alertmanager routing."""

from __future__ import annotations

from ..model.model import Model
from .alertmanager import alertmanager_config
from .baseline_rules import baseline_groups
from .files import render_yaml
from .prometheus import ExportLinks, Translated, alerting_groups
from .recording import recording_rules
from .tests_file import TestsFile

ALERTS_FILE = "flowhealth-alerts.rules.yml"
RECORDING_FILE = "flowhealth-recording.rules.yml"
TESTS_FILE = "flowhealth-alerts.test.yml"
BASELINE_FILE = "flowhealth-baseline.rules.yml"
RULE_FILES_GLOB = "*.rules.yml"


def prometheus_files(model: Model, links: ExportLinks) -> dict[str, str]:
    """`{file name: text}`: alert rules, recording rules, and the promtool tests of the alerts."""
    command = "export prometheus-rules"
    translated: Translated = {}  # each rule's annotations, for its alert and for its promtool cases
    tests = TestsFile(model, links, translated, [ALERTS_FILE], command)  # a big model's helper starts now
    files = {
        ALERTS_FILE: render_yaml({"groups": alerting_groups(model, links, translated)}, command),
        RECORDING_FILE: render_yaml({"groups": recording_rules(model)}, command),
    }
    files[TESTS_FILE] = tests.text()
    if model.baseline_rules():
        files[BASELINE_FILE] = render_yaml({"groups": baseline_groups(model, links)}, command)
    return files


def alertmanager_file(model: Model, token_file: str, flowhealth_url: str | None = None) -> str:
    config = alertmanager_config(model, token_file=token_file, flowhealth_url=flowhealth_url)
    return render_yaml(config, "export alertmanager")


__all__ = ["ExportLinks", "alertmanager_file", "prometheus_files"]
