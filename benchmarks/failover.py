"""Failover and probe throughput of `flowhealth serve` replicas on one PostgreSQL database.

    python -m benchmarks.failover [--evaluation-interval 2] [--kills 3] [--probes 120] [--window 20]

1. Three replicas run; the leader is killed with SIGKILL while an alert is about to fire (its
   value was pushed to a surviving replica at the same moment). Printed: time from the kill to
   the next evaluation cycle (any replica's `flowhealth_rule_evaluations_total` grows) and to the
   notification reaching Slack (the local Web API server of the test suite). Goal: both at most
   two evaluation intervals.
2. Probe runs per second (sum of `flowhealth_probe_runs_total` over the replicas) with 1, 2 and 3
   replicas, for `--probes` SQL probes due every second, each a query of ~5 ms on SQLite.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); makes and drops its own database.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.support.faults import SLACK_TOKEN, THRESHOLD, TOKEN, probed_flows, pushed_flows, pushed_rules
from tests.support.models import write_model
from tests.support.service import ServeProcess
from tests.support.services import POSTGRES_ADMIN_URL
from tests.support.slack_server import SlackServer

from flowhealth.store.db import make_engine

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# ~5 ms of work per run on SQLite: a probe that costs something, so capacity shows.
QUERY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT COUNT(*) FROM n"


@contextmanager
def database() -> Iterator[str]:
    admin = make_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"flowhealth_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def metric(process: ServeProcess, name: str) -> float:
    total = 0.0
    for line in httpx.get(f"{process.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def role(process: ServeProcess) -> str:
    return str(httpx.get(f"{process.url}/healthz", timeout=10).json()["replica"]["role"])


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until the condition held (polled every 20 ms)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.02)
    raise TimeoutError(f"not within {timeout} s")


def replicas(work: Path, url: str, env: dict[str, str], count: int, model: Path) -> list[ServeProcess]:
    env = {"FLOWHEALTH_DATABASE_URL": url, **env}
    started = [ServeProcess(model, env, work / f"serve-{uuid.uuid4().hex[:6]}.log") for _ in range(count)]
    for process in started:
        process.launch()
    for process in started:
        process.wait_ready(90)
        process.wait_running(90)
    return started


def failover(work: Path, interval: float, kills: int) -> tuple[list[float], list[float]]:
    model = work / "failover-model"
    write_model(model, pushed_flows(), pushed_rules())
    to_eval: list[float] = []
    to_slack: list[float] = []
    with database() as url, SlackServer({"C1": "shop-alerts"}, token=SLACK_TOKEN) as slack:
        env = {
            "FLOWHEALTH_EVALUATION_INTERVAL": str(interval),
            "FLOWHEALTH_HEARTBEAT_INTERVAL": "0.5",
            "FLOWHEALTH_REPLICA_EXPIRY": "3",
            "FLOWHEALTH_API_TOKEN": TOKEN,
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "FLOWHEALTH_SLACK_BASE_URL": slack.base_url,
        }
        live = replicas(work, url, env, 3, model)
        try:
            for kill in range(kills):
                wait_until(lambda: [role(p) for p in live].count("leader") == 1, 30)
                leader = next(p for p in live if role(p) == "leader")
                others = [p for p in live if p is not leader]
                evaluations = sum(metric(p, "flowhealth_rule_evaluations_total") for p in others)
                messages = len(slack.slack.messages)
                flow = ("f1", "f2", "f3")[kill % 3]
                if kill >= 3:  # the flow fired in an earlier round: let it resolve first, untimed
                    httpx.post(f"{others[0].url}/api/v1/flows/{flow}/signals/backlog", json={"value": 0}, headers=AUTH)
                    time.sleep(4 * interval)
                    messages = len(slack.slack.messages)
                value = THRESHOLD * 3  # a new incident: one new Slack message
                leader.kill9()
                killed_at = time.monotonic()
                httpx.post(
                    f"{others[0].url}/api/v1/flows/{flow}/signals/backlog",
                    json={"value": value},
                    headers=AUTH,
                    timeout=10,
                )
                survivors = tuple(others)
                wait_until(
                    lambda e=evaluations, s=survivors: (
                        sum(metric(p, "flowhealth_rule_evaluations_total") for p in s) > e
                    ),  # type: ignore[misc]
                    60,
                )
                to_eval.append(time.monotonic() - killed_at)
                wait_until(lambda m=messages: len(slack.slack.messages) > m, 60)
                to_slack.append(time.monotonic() - killed_at)
                leader.start(90)
                leader.wait_running(90)
                time.sleep(2 * interval)
        finally:
            for process in live:
                process.stop()
    return to_eval, to_slack


def probe_rate(work: Path, count: int, probes: int, window: float) -> tuple[float, float]:
    """Probe runs per second over the window, and runs skipped per second (a replica fell behind)."""
    shop = work / "shop.db"
    sqlite3.connect(shop).close()
    model = work / f"probe-model-{count}"
    write_model(
        model,
        probed_flows(shop, [f"b{i}" for i in range(probes)], QUERY, interval="1s", timeout="900ms"),
        pushed_rules(),
    )
    with database() as url:
        live = replicas(
            work, url, {"FLOWHEALTH_HEARTBEAT_INTERVAL": "0.5", "FLOWHEALTH_REPLICA_EXPIRY": "3"}, count, model
        )
        try:
            time.sleep(8)  # shares settle, first rounds run
            runs = sum(metric(p, "flowhealth_probe_runs_total") for p in live)
            skipped = sum(metric(p, "flowhealth_probe_runs_skipped_total") for p in live)
            time.sleep(window)
            runs = sum(metric(p, "flowhealth_probe_runs_total") for p in live) - runs
            skipped = sum(metric(p, "flowhealth_probe_runs_skipped_total") for p in live) - skipped
        finally:
            for process in live:
                process.stop()
    return runs / window, skipped / window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluation-interval", type=float, default=2.0)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--probes", type=int, default=120)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    goal = 2 * args.evaluation_interval
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        to_eval, to_slack = failover(work, args.evaluation_interval, args.kills)
        print(f"failover, 3 replicas, evaluation interval {args.evaluation_interval:g} s, {args.kills} leader kills")
        print(f"{'':34} {'median':>8} {'max':>8} {'goal':>8}  verdict")
        for label, values in (
            ("kill -9 leader -> next evaluation", to_eval),
            ("kill -9 leader -> Slack message", to_slack),
        ):
            verdict = "met" if max(values) <= goal else "MISSED"
            print(f"{label:34} {statistics.median(values):7.2f}s {max(values):7.2f}s {goal:7.2f}s  {verdict}")
        print(f"\nprobe runs per second, {args.probes} SQL probes due every 1 s (offered {args.probes}/s)")
        print(f"{'replicas':>8} {'runs/s':>8} {'skipped/s':>10}")
        for count in (1, 2, 3):
            rate, skipped = probe_rate(work, count, args.probes, args.window)
            print(f"{count:>8} {rate:8.1f} {skipped:10.1f}")


if __name__ == "__main__":
    main()
