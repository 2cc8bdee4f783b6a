"""The same sample series through flowhealth's evaluator and through `promtool test rules` on the
exported rules: the same alerts firing, with the same labels and values, at every evaluation.

Each scenario is one signal of the reference deployment, one sample a minute. flowhealth's firing
alerts after each minute's evaluation become the expected alerts of a promtool test at that minute,
so promtool passing means Prometheus fires and resolves at exactly the same evaluations.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from flowhealth.clock import FakeClock
from flowhealth.export import ALERTS_FILE, prometheus_files
from flowhealth.export.availability import PROBE_FAILURES, PROBE_UP, probe_failing_rules
from flowhealth.export.prometheus import rule_annotations, rule_labels, selector
from flowhealth.export.rule_tests import SCRAPE_LABELS, probe_series, render
from flowhealth.model import Model
from flowhealth.model.model import PROBE_FAILING
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, mark_unknown, record_readings
from flowhealth.store.tables import AlertState
from tests.support.alerting import LINKS, make_rig
from tests.support.services import need_tool

FAIL = "probe fails"
Step = dict[str, float] | str  # label value of the scenario's label (or "") -> value; or FAIL


@dataclass(frozen=True)
class Scenario:
    name: str
    flow: str
    signal: str
    steps: list[Step]
    label: str | None = None  # the signal's label column, when its series are labelled

    @property
    def id(self) -> str:
        return self.name.split(":")[0]


def run(value: float, minutes: int, key: str = "") -> list[Step]:
    return [{key: value} for _ in range(minutes)]


SCENARIOS = [
    Scenario(
        "order-export-delayed: for, keep_firing_for, a probe outage while firing, probe-failing",
        "order-export",
        "export_delay",
        [*run(1000, 8), *[FAIL] * 4, *run(1000, 2), *run(100, 6), *run(1000, 1), *run(100, 5)],
    ),
    Scenario(
        "erp-unreachable: hysteresis band, its edges, and a short probe outage",
        "erp-connectivity",
        "heartbeat_age",
        [*run(400, 4), *run(300, 3), *run(120, 2), FAIL, *run(60, 2), *run(400, 3), *run(61, 2), *run(30, 4)],
    ),
    Scenario(
        "inventory-stale: for, flapping before it fires",
        "inventory-sync",
        "stock_age",
        [*run(2000, 3), *run(100, 1), *run(2000, 7), *run(1800, 3)],
    ),
    Scenario(
        "orders-stuck-in-flight: a value derived from traces",
        "order-export",
        "oldest_order_in_flight",
        [*run(7300, 12), *run(60, 3)],
    ),
    Scenario(
        "price-import-stale: the latency class's default threshold",
        "price-sync",
        "price_age",
        [*run(93600, 2), *run(93700, 3), *run(100, 2)],
    ),
    Scenario(
        "orders-rejected-by-erp: labelled series, one disappears",
        "order-export",
        "rejected_orders",
        [
            *[{"timeout": 7.0, "mapping": 2.0}] * 3,
            *[{"timeout": 9.0, "mapping": 6.0}] * 2,
            *[{"mapping": 6.0}] * 3,  # the probe succeeds without a 'timeout' row: that series is gone
            *[{}] * 2,  # and then without any row
        ],
        label="reason",
    ),
    Scenario(
        "settlement-mismatch: a one-hour 'for' on a labelled series that disappears while firing",
        "payment-settlement",
        "settlement_mismatches",
        [*[{"EUR": 3.0, "USD": 1.0}] * 62, *[{"USD": 1.0}] * 2, *[FAIL] * 3, *[{"USD": 0.0}] * 2],
        label="currency",
    ),
]


def labels_of(scenario: Scenario, key: str) -> dict[str, str]:
    return {scenario.label: key} if scenario.label else {}


def flowhealth_timeline(model: Model, scenario: Scenario, tmp_path: Path) -> list[list[tuple[str, str, float]]]:
    """(rule, labels, value) of every firing alert after each minute's evaluation."""
    rig = make_rig(model, tmp_path, FakeClock())
    failures = 0
    timeline = []
    for minute, step in enumerate(scenario.steps):
        if minute:
            rig.clock.advance(timedelta(minutes=1))
        if step == FAIL:
            failures += 1
            with transaction(rig.engine) as session:
                mark_unknown(session, scenario.flow, scenario.signal, rig.clock.now(), "sql")
        else:
            failures = 0
            readings = [Reading(v, labels_of(scenario, k)) for k, v in step.items()]
            with transaction(rig.engine) as session:
                record_readings(session, scenario.flow, scenario.signal, readings, rig.clock.now(), "sql")
        rig.probe_failures(scenario.flow, scenario.signal, failures)
        rig.evaluator.evaluate()
        with Session(rig.engine) as session:
            rows = session.exec(select(AlertState).where(AlertState.state == "firing")).all()
            timeline.append(sorted((r.rule, r.labels, r.last_value or 0.0) for r in rows))
    return timeline


def _value_series(model: Model, scenario: Scenario) -> list[dict[str, str]]:
    """The scraped value series: one per label value, 'stale' when it stops being exported."""
    rule_id = scenario.id
    metric = selector(model, rule_id).split("{")[0]
    keys = sorted({k for step in scenario.steps if step != FAIL for k in step})
    out = []
    for key in keys:
        labels = {"flow": scenario.flow, "signal": scenario.signal, **SCRAPE_LABELS, **labels_of(scenario, key)}
        samples, exported = [], False
        for step in scenario.steps:
            value = None if step == FAIL else step.get(key)
            samples.append("stale" if value is None and exported else "_" if value is None else f"{value:g}")
            exported = value is not None
        body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        out.append({"series": f"{metric}{{{body}}}", "values": " ".join(samples)})
    return out


def _probe_series(model: Model, scenario: Scenario) -> list[dict[str, str]]:
    up, failures, count = [], [], 0
    for step in scenario.steps:
        count = count + 1 if step == FAIL else 0
        up.append("0" if step == FAIL else "1")
        failures.append(str(count))
    return [
        {"series": probe_series(model, PROBE_UP, scenario.flow, scenario.signal)[0], "values": " ".join(up)},
        {
            "series": probe_series(model, PROBE_FAILURES, scenario.flow, scenario.signal)[0],
            "values": " ".join(failures),
        },
    ]


def _expected(model: Model, scenario: Scenario, firing: list[tuple[str, str, float]]) -> dict[str, list[Any]]:
    """flowhealth's firing alerts at one minute as promtool's expected alerts, by alert name."""
    expected: dict[str, list[Any]] = {scenario.id: [], PROBE_FAILING: []}
    for rule_id, labels_json, value in firing:
        if model.is_builtin(rule_id):
            [rule] = [
                r for r in probe_failing_rules(model, scenario.flow, LINKS) if r["labels"]["signal"] == scenario.signal
            ]
            _, labels = probe_series(model, PROBE_FAILURES, scenario.flow, scenario.signal)
            annotations, extra, name = rule["annotations"], rule["labels"], PROBE_FAILING
        else:
            labels = {"flow": scenario.flow, "signal": scenario.signal, **SCRAPE_LABELS, **json.loads(labels_json)}
            annotations, extra, name = rule_annotations(model, rule_id, LINKS), rule_labels(model, rule_id), rule_id
        expected[name].append(
            {
                "exp_labels": dict(sorted({**labels, **extra}.items())),
                "exp_annotations": {k: render(v, value, labels) for k, v in annotations.items()},
            }
        )
    return expected


def promtool_case(model: Model, scenario: Scenario, timeline: list[list[tuple[str, str, float]]]) -> dict[str, Any]:
    checks = []
    for minute, firing in enumerate(timeline):
        for name, alerts in _expected(model, scenario, firing).items():
            alerts.sort(key=lambda a: json.dumps(a["exp_labels"], sort_keys=True))
            checks.append({"eval_time": f"{minute}m", "alertname": name, "exp_alerts": alerts})
    return {
        "name": scenario.name,
        "interval": "1m",
        "input_series": [*_value_series(model, scenario), *_probe_series(model, scenario)],
        "alert_rule_test": checks,
    }


def transitions(timeline: list[list[tuple[str, str, float]]]) -> list[tuple[int, str, str]]:
    """(minute, 'firing'/'resolved', rule) whenever the set of firing alerts changes."""
    out, before = [], set[tuple[str, str]]()
    for minute, firing in enumerate(timeline):
        now = {(r, labels) for r, labels, _ in firing}
        out += [(minute, "firing", f"{r} {labels}") for r, labels in sorted(now - before)]
        out += [(minute, "resolved", f"{r} {labels}") for r, labels in sorted(before - now)]
        before = now
    return out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_prometheus_fires_and_resolves_at_the_same_evaluations_as_flowhealth(
    reference_model: Model, scenario: Scenario, tmp_path: Path
) -> None:
    promtool = need_tool("promtool")
    timeline = flowhealth_timeline(reference_model, scenario, tmp_path)
    changes = transitions(timeline)
    assert any(kind == "firing" for _, kind, _ in changes), "the scenario must make flowhealth fire"
    assert any(kind == "resolved" for _, kind, _ in changes), "the scenario must make flowhealth resolve"
    (tmp_path / ALERTS_FILE).write_text(prometheus_files(reference_model, LINKS)[ALERTS_FILE])
    tests = tmp_path / "equivalence.test.yml"
    document = {
        "rule_files": [ALERTS_FILE],
        "evaluation_interval": "1m",
        "tests": [promtool_case(reference_model, scenario, timeline)],
    }
    tests.write_text(yaml.safe_dump(document, sort_keys=False, width=10_000))
    tested = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0, f"flowhealth: {changes}\n{tested.stdout}{tested.stderr}"
