"""Baseline rules exported to Prometheus agree with flowhealth: same expected value and band, real promtool."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from flowhealth.alerting.backtest import Point, SeriesIndex
from flowhealth.alerting.baseline import estimate
from flowhealth.demo.order_stream import StreamSpec, generate
from flowhealth.export import BASELINE_FILE, ExportLinks, prometheus_files
from flowhealth.model.baseline_rule import BaselineRule
from flowhealth.model.model import Model

from .support.services import need_tool

LINKS = ExportLinks(public_url="http://localhost:8000", grafana_url="http://localhost:3000")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # promtool's input series start at time 0 (a Thursday)
SERIES = 'flowhealth_flow_throughput_records_per_second{flow="order-intake", signal="order_rate"}'
FRIDAY_PEAK = timedelta(weeks=4, days=1, hours=19)  # Fri 20:00 in Berlin (no DST in 1970)
SATURDAY_NIGHT = timedelta(weeks=4, days=2, hours=2)  # Sat 03:00 in Berlin
OUTAGE = timedelta(minutes=20)  # orders stop 20 minutes before FRIDAY_PEAK


def _points() -> list[Point]:
    generated = generate(StreamSpec(start=EPOCH, weeks=5))
    end = EPOCH + SATURDAY_NIGHT + timedelta(minutes=1)
    out = []
    # One sample per 5 minutes keeps promtool's replay of four weeks short; each slot then holds one.
    for p in generated[::5]:
        if p.at >= end:
            break
        outage = EPOCH + FRIDAY_PEAK - OUTAGE <= p.at <= EPOCH + FRIDAY_PEAK
        out.append(Point(p.at, 0.0 if outage else round(p.value, 4)))
    return out


def _close(expr: str, expected: float) -> str:
    """1 when `expr` is within 1% of flowhealth's value."""
    return f"sum(abs({expr} - {expected!r}) / {expected!r} < bool 0.01)"


def test_recorded_expected_value_and_band_match_flowhealth(reference_model: Model, tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    rule_id = "orders-below-expected"
    exported = yaml.safe_load(prometheus_files(reference_model, LINKS)[BASELINE_FILE])
    groups = [g for g in exported["groups"] if g["name"] == f"flowhealth-baseline-{rule_id}"]
    (tmp_path / BASELINE_FILE).write_text(yaml.safe_dump({"groups": groups}, width=10**9))
    rule = reference_model.rules[rule_id]
    assert isinstance(rule, BaselineRule)
    points = _points()
    index = SeriesIndex(points)
    checks = []
    for offset in (FRIDAY_PEAK, SATURDAY_NIGHT):
        ours = estimate(rule, reference_model.calendar_of(rule), EPOCH + offset, index.mean)
        assert not ours.learning and ours.value > 0
        minutes = int(offset.total_seconds() // 60)
        for name, value in (("expected", ours.value), ("lower", ours.low)):
            checks.append(
                {
                    "expr": _close(f'flowhealth:baseline_{name}{{rule="{rule_id}"}}', value),
                    "eval_time": f"{minutes}m",
                    "exp_samples": [{"labels": "{}", "value": 1}],
                }
            )
    # And the alerting rule fires on the outage at the Friday peak, as flowhealth's evaluator would.
    checks.append(
        {
            "expr": f'sum(ALERTS{{alertname="{rule_id}", alertstate="firing"}})',
            "eval_time": f"{int(FRIDAY_PEAK.total_seconds() // 60)}m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        }
    )
    tests = {
        "rule_files": [BASELINE_FILE],
        "evaluation_interval": "5m",
        "tests": [
            {
                "interval": "5m",
                "input_series": [{"series": SERIES, "values": " ".join(repr(p.value) for p in points)}],
                "promql_expr_test": checks,
            }
        ],
    }
    test_file = tmp_path / "baseline.test.yml"
    test_file.write_text(yaml.safe_dump(tests, width=10**9))
    checked = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / BASELINE_FILE)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=600)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
