"""End to end: the real Prometheus scrapes a running flowhealth, evaluates the exported rules,
and every dashboard query returns data."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from flowhealth.dashboards import build_dashboards
from flowhealth.dashboards.lint import expressions
from flowhealth.export import RULE_FILES_GLOB, ExportLinks, prometheus_files
from flowhealth.links import OVERVIEW_UID, flow_dashboard_uid
from flowhealth.model import Model
from flowhealth.settings import Settings
from flowhealth.store.tables import AlertState
from tests.support.demo_stack import DemoStack, build_demo_stack, free_port, serve
from tests.support.promql import substitute
from tests.support.services import need_tool

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(reference_model: Model, tmp_path: Path) -> Iterator[DemoStack]:
    stack = build_demo_stack(reference_model, tmp_path / "stack")
    # 32 simulated minutes: the ERP outage starts at 8 and order-export-delayed fires after 15m + 5m.
    for _ in range(32):
        stack.tick(60)
    stack.break_things()
    stack.tick(60)
    yield stack
    stack.runtime.stop()


@pytest.fixture
def keep_measuring(stack: DemoStack) -> Iterator[None]:
    """Probes keep running while Prometheus scrapes, so rates and latency percentiles have data."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.5):
            stack.tick(1)

    thread = threading.Thread(target=loop, name="keep-measuring", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


@contextmanager
def running_prometheus(binary: str, work: Path, target: str) -> Iterator[str]:
    """The real Prometheus on a free port, scraping `target` every second; stopped afterwards."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(work / "rules" / RULE_FILES_GLOB)],
        "scrape_configs": [{"job_name": "flowhealth", "static_configs": [{"targets": [target]}]}],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    command = [
        binary,
        f"--config.file={work / 'prometheus.yml'}",
        f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with (work / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}"
            assert process.poll() is None, (work / "prometheus.log").read_text()
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def query(base: str, expr: str) -> list[Any]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[Any] = body["data"]["result"]
    return result


def firing_flows(stack: DemoStack) -> set[str]:
    with Session(stack.runtime.engine) as session:
        rules = {a.rule for a in session.exec(select(AlertState)).all() if a.state == "firing"}
    return {stack.runtime.model.rules[r].flow for r in rules}


def dashboard_queries(model: Model) -> dict[str, str]:
    """`{where: PromQL}` for every query of every dashboard, variables filled in as Grafana would."""
    queries = {}
    for name, text in build_dashboards(model, Settings().runbook_url).items():
        dashboard = json.loads(text)
        values = {"__range": "1h", "__rate_interval": "1m", "team": ".+", "flow": ".+"}
        values |= {v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "constant"}
        for where, expr in expressions(dashboard):
            queries[f"{name} {where}"] = substitute(expr, values)
    return queries


def test_every_dashboard_query_returns_data(
    reference_model: Model, stack: DemoStack, keep_measuring: None, tmp_path: Path
) -> None:
    binary = need_tool("prometheus")
    work = tmp_path / "prometheus"
    (work / "rules").mkdir(parents=True)
    files = prometheus_files(
        reference_model, ExportLinks(grafana_url="http://grafana.test", public_url="http://flowhealth.test")
    )
    for name, text in files.items():
        if name.endswith(".rules.yml"):
            (work / "rules" / name).write_text(text)
    queries = dashboard_queries(reference_model)
    # Alert annotations only have data while an alert fires: demand it where one does, run the rest.
    firing = {flow_dashboard_uid(f) for f in firing_flows(stack)} | {OVERVIEW_UID}
    assert flow_dashboard_uid("order-export") in firing
    incident_only = {w for w in queries if " annotation " in w and w.split(".json")[0] not in firing}
    with (
        serve(stack.runtime, free_port()) as url,
        running_prometheus(binary, work, url.removeprefix("http://")) as prometheus,
    ):
        empty = {w: e for w, e in queries.items() if w not in incident_only}
        deadline = time.monotonic() + 45
        while empty and time.monotonic() < deadline:
            time.sleep(1)
            try:
                empty = {where: expr for where, expr in empty.items() if not query(prometheus, expr)}
            except OSError:
                continue  # still starting
        assert empty == {}, "queries without data:\n" + "\n".join(f"{w}: {e}" for w, e in sorted(empty.items()))
        for where in sorted(incident_only):
            query(prometheus, queries[where])  # valid and answered, if empty
        # The incident shows the way the overview shows it, and Prometheus evaluates the exported rule too
        # (pending there: its `for: 5m` runs on Prometheus' wall clock, not the simulated one).
        [breach] = query(prometheus, 'flowhealth:flow_status{flow="order-export"}')
        assert breach["value"][1] == "3"
        [active] = query(prometheus, 'ALERTS{alertname="order-export-delayed"}')
        assert (active["metric"]["team"], active["metric"]["alertstate"]) == ("erp-basis", "pending")
