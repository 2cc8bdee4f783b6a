"""Every duration a person reads is spelled one way, and it is the way Prometheus spells the same rule text."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from flowhealth.alerting.notices import Message, NoticeKind, Resolved, ResolvedValue
from flowhealth.export.templates import translate
from flowhealth.model.durations import human_duration
from flowhealth.model.templates import render
from flowhealth.model.units import format_quantity
from flowhealth.notify.wording import thread_text
from tests.support.services import need_tool

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SUMMARY = "Oldest order waits {{ value | duration }}"
# Values whose every unit is non-zero: there Prometheus' humanizeDuration and ours are the same text.
AGREEING = [0.25, 2.5, 42, 1537, 5437, 93784]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (2.5, "2.5s"),
        (42, "42s"),
        (960, "16m"),  # Prometheus: "16m 0s"
        (1537, "25m 37s"),
        (1537.9, "25m 37s"),  # seconds cut, not rounded, as Prometheus does
        (5437, "1h 30m 37s"),
        (7500, "2h 5m"),
        (93784, "1d 2h 3m 4s"),
        (-1537, "-25m 37s"),
    ],
)
def test_one_spelling_for_people(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_summary_value_thread_line_and_cli_reading_agree() -> None:
    assert render(SUMMARY, {"value": 1537}) == "Oldest order waits 25m 37s"
    assert format_quantity(1537, "seconds") == "25m 37s"  # Slack's value, `probe run`, `alerts`
    resolved = Resolved(at=T0, after_seconds=5437, values=[ResolvedValue(rule="orders-late", value_text="42s")])
    line = thread_text(Message(kind=NoticeKind.UPDATE, notices=[resolved]))
    assert line == ":white_check_mark: Resolved after 1h 30m 37s: orders-late at 42s."


def test_prometheus_renders_an_exported_summary_as_flowhealth_does(tmp_path: Path) -> None:
    """promtool evaluates the translated summary; the expected text is flowhealth's own rendering."""
    promtool = need_tool("promtool")
    annotation = translate(SUMMARY, {})
    rules = {
        "groups": [
            {
                "name": "spelling",
                "rules": [
                    {"alert": f"Waits{i}", "expr": f"vector({value})", "annotations": {"summary": annotation}}
                    for i, value in enumerate(AGREEING)
                ],
            }
        ]
    }
    checks = [
        {
            "eval_time": "1m",
            "alertname": f"Waits{i}",
            "exp_alerts": [{"exp_labels": {}, "exp_annotations": {"summary": render(SUMMARY, {"value": value})}}],
        }
        for i, value in enumerate(AGREEING)
    ]
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [], "alert_rule_test": checks}],
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "tests.yml")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
