"""Detection latency: from data changing to the Slack call, beside Prometheus + Alertmanager on the same data.

    python -m benchmarks.detection_latency [--flows 200] [--spans 2000] [--interval 5] [--changes 100]

One flowhealth process watches `--flows` flows, each a SQL probe every `--interval` seconds on a
real PostgreSQL table (a SQLite file when PostgreSQL is not running here) with one rule, owned
by twenty teams, while `--spans` spans a second are ingested for a traced flow. Slack is the local Web API server from
the test suite. Every `--every` seconds the backlog of one more flow goes over its threshold;
measured per change, to the first Slack call naming the flow or its alert (`chat.postMessage`, or
`chat.update` when it joins its team's open incident):

* probe observed → Slack call: from the end of the probe run that saw the new value;
* data changed → Slack call: from the UPDATE on the target.

The anchor, in the same run: a real Prometheus scraping flowhealth's /metrics and evaluating the
exported rules (`flowhealth export prometheus-rules`; scrape and evaluation every 15 s as in
deploy/prometheus), and a real Alertmanager with its default `group_wait` of 30 s grouping by flow
as the exported routing does, calling a local webhook receiver. Its "probe observed" is the same
moment as flowhealth's: the value is in /metrics from then on.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import start_http_server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from tests.support.alertmanager import alertmanager_binary, running_alertmanager
from tests.support.services import POSTGRES_ADMIN_URL, port_open
from tests.support.slack_server import SlackServer

from benchmarks.synthetic import RUNBOOK
from benchmarks.trace_bench import BATCH, payloads
from flowhealth.cli.common import settle_for_serving
from flowhealth.clock import SystemClock
from flowhealth.export import ALERTS_FILE, prometheus_files
from flowhealth.export.prometheus import ExportLinks
from flowhealth.model import Model, load_model
from flowhealth.probes.runner import RunResult
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.traces.decode import PROTOBUF

# Twenty teams: 100 changes make five new incidents per team, under flood control's threshold (more
# within two minutes go into one storm message per team, which this does not set out to measure).
TEAMS = 20
THRESHOLD = 100
OVER = 500
PROMETHEUS_INTERVAL = "15s"  # deploy/prometheus/prometheus.yml
GOAL_OBSERVED = 1.0  # seconds, p99


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the target database and the model ---------------------------------------------------------


@contextmanager
def target_database(work: Path, flows: int) -> Iterator[str]:
    """A `backlog` table with one row per flow, all under the threshold; yields its URL."""
    url = make_url(POSTGRES_ADMIN_URL)
    name = None
    if port_open(url.host or "127.0.0.1", url.port or 5432):
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"flowhealth_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        target = url.set(database=name).render_as_string(hide_password=False)
    else:
        target = f"sqlite:///{work / 'target.db'}"
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE backlog (flow INT PRIMARY KEY, waiting INT NOT NULL)"))
        conn.execute(text("INSERT INTO backlog (flow, waiting) VALUES (:f, 3)"), [{"f": f} for f in range(flows)])
    engine.dispose()
    try:
        yield target
    finally:
        if name is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


TRACED_FLOW = """  order-export:
    description: Orders reach the ERP (traced).
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: api
    latency_class: same-day
    owner: team-00
    signals:
      orders_in_flight:
        kind: records
        description: Orders on their way to the ERP, from spans.
        probe: {kind: trace, measure: in_flight, interval: %ds}
    traces:
      entity: order
      stages: [placed, exported, accepted]
      horizon: 1d
      keep_completed: 1h
      spans:
        - service: erp-connector
          name: SalesOrder.create
          stage: accepted
          entity_id: erp.sales_order.external_ref
          system: erp
"""


def write_model(root: Path, target: str, flows: int, interval: int) -> Model:
    """`flows` flows of one SQL probe and one rule each, over the teams, and the traced flow."""
    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    teams = "\n".join(f'  team-{t:02d}:\n    slack_channel: "#team-{t:02d}"' for t in range(TEAMS))
    parts = [
        f"teams:\n{teams}\nsystems:\n  shop: {{name: Shop, kind: commerce, owner: team-00}}\n"
        f"  erp: {{name: ERP, kind: erp, owner: team-00}}\n"
        f'connections:\n  target: {{url: "{target}", pool_size: 4}}\nflows:\n'
    ]
    rules = ["rules:"]
    for f in range(flows):
        parts.append(
            f"  flow-{f:03d}:\n    description: Flow {f}.\n    object: order\n    source_of_truth: shop\n"
            f"    targets: [erp]\n    pattern: queue\n    latency_class: same-day\n    owner: team-{f % TEAMS:02d}\n"
            f"    signals:\n      backlog:\n        kind: depth\n        description: Orders waiting.\n"
            f'        probe: {{kind: sql, connection: target, query: "SELECT waiting FROM backlog WHERE flow = {f}",'
            f" interval: {interval}s, timeout: 2s}}\n"
        )
        rules.append(
            f"  flow-{f:03d}-backlog:\n    flow: flow-{f:03d}\n    signal: backlog\n    above: {THRESHOLD}\n"
            f'    severity: warning\n    summary: "BENCH{f:03d} {{{{ value | number }}}} orders wait"\n'
            "    business_impact: Orders wait.\n    runbook: generic"
        )
    parts.append(TRACED_FLOW % interval)
    (root / "flows" / "bench.yaml").write_text("".join(parts))
    (root / "alert_rules" / "bench.yaml").write_text("\n".join(rules) + "\n")
    (root / "runbooks" / "generic.md").write_text(RUNBOOK)
    return load_model(root)


# -- what is measured --------------------------------------------------------------------------


class Timeline:
    """When each flow's data changed, its probe saw it, Slack was called, and the anchor's webhook was."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed: dict[int, float] = {}
        self.observed: dict[int, float] = {}
        self.slack: dict[int, float] = {}
        self.webhook: dict[int, float] = {}

    def probe_result(self, result: RunResult) -> None:
        now = time.monotonic()
        flow = int(result.flow.removeprefix("flow-")) if result.flow.startswith("flow-") else None
        value = result.readings[0].value if result.readings else None
        if flow is None or value is None or value <= THRESHOLD:
            return
        with self.lock:
            if flow in self.changed:
                self.observed.setdefault(flow, now)

    def slack_call(self, method: str, args: dict[str, Any]) -> None:
        # A flow whose team already has an open incident joins it: the message is edited and the
        # thread told, rather than a new message posted.
        if method not in ("chat.postMessage", "chat.update"):
            return
        now, body = time.monotonic(), json.dumps(args)
        with self.lock:
            for flow in self.changed:
                if f"BENCH{flow:03d}" in body or f"flow-{flow:03d}" in body:
                    self.slack.setdefault(flow, now)

    def webhook_call(self, payload: dict[str, Any]) -> None:
        now = time.monotonic()
        with self.lock:
            for alert in payload.get("alerts", []):
                flow = alert.get("labels", {}).get("flow", "")
                if alert.get("status") == "firing" and flow.startswith("flow-"):
                    self.webhook.setdefault(int(flow.removeprefix("flow-")), now)

    def latencies(self, start: dict[int, float], end: dict[int, float]) -> list[float]:
        with self.lock:
            return sorted(end[f] - start[f] for f in start if f in end)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


@contextmanager
def webhook_receiver(timeline: Timeline) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            timeline.webhook_call(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# -- the anchor --------------------------------------------------------------------------------


@contextmanager
def anchor(work: Path, model: Model, metrics_port: int, webhook: str) -> Iterator[None]:
    """Prometheus on the exported rules, alerting through Alertmanager (group_wait 30 s) to `webhook`."""
    am_config = work / "alertmanager.yml"
    am_config.write_text(
        yaml.safe_dump(
            {
                "route": {"receiver": "bench", "group_by": ["flow"]},  # group_wait: its default, 30 s
                "receivers": [{"name": "bench", "webhook_configs": [{"url": webhook, "send_resolved": False}]}],
            }
        )
    )
    links = ExportLinks("http://flowhealth.bench", "http://grafana.bench")
    (work / "rules.yml").write_text(prometheus_files(model, links)[ALERTS_FILE])
    with running_alertmanager(am_config, work) as am_url:
        port = _free_port()
        config = work / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {PROMETHEUS_INTERVAL}, evaluation_interval: {PROMETHEUS_INTERVAL}}}\n"
            f"rule_files: [{work / 'rules.yml'}]\n"
            f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{am_url.removeprefix('http://')}']}}]}}]}}\n"
            "scrape_configs:\n"
            f"  - job_name: flowhealth\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
        )
        process = subprocess.Popen(
            [
                shutil.which("prometheus") or "/usr/bin/prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={work / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_rules(f"http://127.0.0.1:{port}", process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for_rules(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("prometheus exited during start-up")
        try:
            groups = httpx.get(f"{url}/api/v1/rules", timeout=1).json()["data"]["groups"]
            up = httpx.get(f"{url}/api/v1/query", params={"query": "up"}, timeout=1).json()["data"]["result"]
            if groups and up:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.5)  # waiting for an external process; no clock to inject
    raise RuntimeError("prometheus did not load the rules and scrape flowhealth within 60 s")


# -- load ----------------------------------------------------------------------------------------


def span_load(runtime: Runtime, per_second: float, stop: threading.Event, sent: list[int]) -> None:
    """Ingest `per_second` spans a second in batches of 512, as an OTLP exporter would send them."""
    pause = BATCH / per_second
    started = time.monotonic()
    for batch, body in enumerate(payloads(0, 1_000_000), start=1):
        if stop.is_set():
            return
        runtime.traces.ingest_body(PROTOBUF, body)
        sent[0] += BATCH
        wait = started + batch * pause - time.monotonic()
        if wait > 0:
            stop.wait(wait)


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    timeline = Timeline()
    with (
        target_database(work, args.flows) as target,
        SlackServer({f"C{t:02d}": f"team-{t:02d}" for t in range(TEAMS)}) as slack,
        webhook_receiver(timeline) as webhook,
    ):
        handle = slack.slack.handle

        def timed(method: str, call: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
            timeline.slack_call(method, call)
            return handle(method, call)

        slack.slack.handle = timed  # type: ignore[method-assign,assignment]
        model = write_model(work / "model", target, args.flows, args.interval)
        settings = Settings(
            database_url=f"sqlite:///{work / 'state.db'}",
            SLACK_BOT_TOKEN=slack.token,
            FLOWHEALTH_SLACK_BASE_URL=slack.base_url,
        )
        runtime = Runtime.build(settings, model, clock=SystemClock(), environ={})
        settle_for_serving()  # the collector as `flowhealth serve` sets it
        runtime.runner.on_result = timeline.probe_result
        metrics, _ = start_http_server(0, addr="127.0.0.1", registry=runtime.registry)
        stop, sent = threading.Event(), [0]
        loader = threading.Thread(target=span_load, args=(runtime, args.spans, stop, sent), daemon=True)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        runtime.start()
        try:
            with anchor(work, model, metrics.server_port, webhook):
                loader.start()
                time.sleep(args.interval + 2)  # every probe ran once, the spans flow
                spans_from, load_from = (sent[0], time.monotonic()), os.getloadavg()[0]
                target_engine = create_engine(target)
                changes = min(args.changes, args.flows)
                for n in range(changes):
                    change(target_engine, timeline, n)
                    time.sleep(args.every)
                # Prometheus: a scrape and an evaluation (15 s each), then group_wait (30 s).
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and len(timeline.webhook) < changes:
                    time.sleep(0.5)
                span_rate = (sent[0] - spans_from[0]) / (time.monotonic() - spans_from[1])
                load = max(load_from, os.getloadavg()[0])
                target_engine.dispose()
        finally:
            stop.set()
            runtime.stop()
            metrics.shutdown()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "changes": changes,
        "observed_to_slack": timeline.latencies(timeline.observed, timeline.slack),
        "changed_to_slack": timeline.latencies(timeline.changed, timeline.slack),
        "observed_to_webhook": timeline.latencies(timeline.observed, timeline.webhook),
        "changed_to_webhook": timeline.latencies(timeline.changed, timeline.webhook),
        "span_rate": span_rate,
        "load": load,
        "cpu": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        "passes": {
            trigger: runtime.registry.get_sample_value("flowhealth_evaluation_passes_total", {"trigger": trigger})
            for trigger in ("sample", "interval", "for")
        },
    }


def change(engine: Engine, timeline: Timeline, flow: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE backlog SET waiting = :v WHERE flow = :f"), {"v": OVER, "f": flow})
    with timeline.lock:
        timeline.changed[flow] = time.monotonic()


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    def p99(key: str) -> float:
        return percentile(result[key], 0.99)

    goal_changed = args.interval + 1.0
    rows = [
        ("probe observed → call p99", p99("observed_to_slack"), p99("observed_to_webhook"), GOAL_OBSERVED),
        ("data changed → call p99", p99("changed_to_slack"), p99("changed_to_webhook"), goal_changed),
        (
            "data changed → call p50",
            percentile(result["changed_to_slack"], 0.5),
            percentile(result["changed_to_webhook"], 0.5),
            None,
        ),
    ]
    print(
        f"{args.flows} flows, SQL probes every {args.interval} s, {result['span_rate']:.0f} spans/s ingested "
        f"(asked {args.spans}), {result['changes']} changes; load average {result['load']:.1f}; "
        f"flowhealth CPU {result['cpu']:.1f} s; passes {result['passes']}"
    )
    print(
        f"calls seen: Slack {len(result['changed_to_slack'])}/{result['changes']}, "
        f"anchor webhook {len(result['changed_to_webhook'])}/{result['changes']}"
    )
    print("| measure | flowhealth | anchor (Prometheus + Alertmanager) | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    for name, ours, theirs, goal in rows:
        ratio = ours / theirs if theirs and not math.isnan(theirs) else math.nan
        goal_text = f"≤ {goal:g} s" if goal is not None else "—"
        met = "—" if goal is None else ("yes" if ours <= goal else "no")
        print(f"| {name} | {ours:.2f} s | {theirs:.2f} s | {ratio:.3f}x | {goal_text} | {met} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--spans", type=float, default=2000.0, help="spans a second ingested meanwhile")
    parser.add_argument("--interval", type=int, default=5, help="seconds between runs of each probe")
    parser.add_argument("--changes", type=int, default=100, help="flows whose data goes over the threshold")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two changes")
    args = parser.parse_args()
    if alertmanager_binary() is None or shutil.which("prometheus") is None:
        raise SystemExit("needs the Debian packages prometheus and prometheus-alertmanager")
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        report(run(args, Path(tmp)), args)


if __name__ == "__main__":
    main()
