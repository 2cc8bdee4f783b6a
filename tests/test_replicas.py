"""Replicas of `flowhealth serve` on one PostgreSQL database, as real processes: start, share, kill -9."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.cluster import owner_of
from flowhealth.store.db import make_engine
from flowhealth.store.tables import AlertState, Incident
from tests.support.faults import (
    PUSHED,
    SLACK_TOKEN,
    THRESHOLD,
    TOKEN,
    delivered_in_order,
    outbox,
    posting_keys,
    probed_flows,
    pushed_rules,
    replies_follow_parents,
    slack_keys,
)
from tests.support.models import write_model
from tests.support.service import ServeProcess
from tests.support.slack_server import SlackServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBED = [f"p{i}" for i in range(1, 7)]


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts"}, token=SLACK_TOKEN) as server:
        yield server


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, slack: SlackServer) -> Iterator[list[ServeProcess]]:
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    write_model(
        tmp_path / "model",
        probed_flows(shop, PROBED, "SELECT COUNT(*) FROM orders", interval="2s", timeout="1s"),
        pushed_rules(),
    )
    env = {
        "FLOWHEALTH_DATABASE_URL": postgres_url,
        "FLOWHEALTH_EVALUATION_INTERVAL": "0.3",
        "FLOWHEALTH_DELIVERY_INTERVAL": "0.3",
        "FLOWHEALTH_HEARTBEAT_INTERVAL": "0.3",
        "FLOWHEALTH_REPLICA_EXPIRY": "2",
        "FLOWHEALTH_API_TOKEN": TOKEN,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "FLOWHEALTH_SLACK_BASE_URL": slack.base_url,
    }
    processes = [ServeProcess(tmp_path / "model", env, tmp_path / f"serve-{i}.log") for i in range(3)]
    for process in processes:  # all at once: migrations and leadership must not race
        process.launch()
    try:
        for process in processes:
            process.wait_ready(60)
            process.wait_running(60)
        yield processes
    finally:
        for process in processes:
            process.stop()


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def health(process: ServeProcess) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{process.url}/healthz", timeout=5).json()
    return answer


def settled_shares(live: list[ServeProcess]) -> bool:
    """One leader; every live replica sees the others; each probe runs on exactly one of them."""
    views = [health(p)["replica"] for p in live]
    owned = [probe for view in views for probe in view["probes"]]
    return (
        [view["role"] for view in views].count("leader") == 1
        and all(view["replicas"] == len(live) for view in views)
        and sorted(owned) == sorted(f"{flow}/backlog" for flow in PROBED)
    )


def leader(live: list[ServeProcess]) -> ServeProcess:
    wait_until(lambda: [health(p)["replica"]["role"] for p in live].count("leader") == 1, 15, "one leader")
    return next(p for p in live if health(p)["replica"]["role"] == "leader")


def test_three_replicas_started_at_once_share_probes_and_move_them_when_one_dies(
    replicas: list[ServeProcess],
) -> None:
    wait_until(lambda: settled_shares(replicas), 15, "one leader and the probes shared out")
    views = [health(p)["replica"] for p in replicas]
    members = [view["id"] for view in views]
    for view in views:  # rendezvous hashing over the live replicas decides each probe's one owner
        expected = sorted(f"{flow}/backlog" for flow in PROBED if owner_of((flow, "backlog"), members) == view["id"])
        assert view["probes"] == expected, f"{view['id']} runs {view['probes']}, not its share {expected}"
    metrics = httpx.get(f"{replicas[0].url}/metrics", timeout=5).text
    assert "flowhealth_replicas 3.0" in metrics

    first = leader(replicas)
    first.kill9()
    live = [p for p in replicas if p is not first]
    started = time.monotonic()
    wait_until(lambda: settled_shares(live), 15, "a new leader and the dead replica's probes moved")
    assert time.monotonic() - started < 5, "probes took longer than the replica expiry to move"


def test_kill_9_of_leader_and_follower_during_evaluation_and_delivery_notifies_exactly_once(
    replicas: list[ServeProcess], slack: SlackServer, engine: Engine
) -> None:
    rng = random.Random(12)
    high = dict.fromkeys(PUSHED, False)
    firings = dict.fromkeys(PUSHED, 0)
    wait_until(lambda: settled_shares(replicas), 15, "the replicas to settle")
    plan = [("leader", "evaluation"), ("leader", "delivery"), ("follower", "evaluation"), ("follower", "delivery")]
    for round_, (victim_role, moment) in enumerate(plan * 2):
        flow = PUSHED[round_ % len(PUSHED)]
        high[flow] = not high[flow]
        firings[flow] += high[flow]
        boss = leader(replicas)
        victim = boss if victim_role == "leader" else next(p for p in replicas if p is not boss)
        entry = rng.choice(replicas)  # behind a load balancer any replica takes the push
        value = THRESHOLD * 3 if high[flow] else 0
        if moment == "delivery":
            # Slack stores the post, then the replica dies before it hears back.
            slack.slack.post_delay = 2.0
            before = len(slack.slack.messages)
            push(entry, flow, value)
            wait_until(lambda b=before: len(slack.slack.messages) > b, 15, "a Slack post in flight")  # type: ignore[misc]
        else:
            push(entry, flow, value)
            time.sleep(rng.uniform(0.0, 0.6))  # evaluation runs every 0.3 s: before, in or after a cycle
        victim.kill9()
        slack.slack.post_delay = 0.0
        victim.start(60)
        victim.wait_running(60)

    def settled() -> bool:
        rows = outbox(engine)
        with Session(engine) as session:
            states = {s.rule: s.state for s in session.exec(select(AlertState)).all()}
        expected = {f"{f}-backlog": "firing" if high[f] else "inactive" for f in PUSHED}
        return (
            bool(rows)
            and all(r.delivered_at is not None for r in rows)
            and all(states.get(rule, "inactive") == state for rule, state in expected.items())
        )

    # A message claimed by a replica that died waits for its claim lease (15 s) before another replica retries.
    wait_until(settled, 60, "every notification delivered and every alert in its final state")
    rows = outbox(engine)
    sent = slack_keys(slack.slack)
    assert [key for key, n in sent.items() if n > 1] == [], "a notification reached Slack twice"
    assert posting_keys(rows) <= set(sent), "a notification never reached Slack"
    assert replies_follow_parents(slack.slack)
    assert delivered_in_order(rows)
    with Session(engine) as session:
        for flow in PUSHED:
            state = session.get(AlertState, (f"{flow}-backlog", "{}"))
            assert (state.incident if state else 0) == firings[flow], f"{flow} fired a different number of times"
        incidents = session.exec(select(Incident)).all()
    assert len(incidents) == sum(firings.values())


def push(process: ServeProcess, flow: str, value: float) -> None:
    answer = httpx.post(
        f"{process.url}/api/v1/flows/{flow}/signals/backlog", json={"value": value}, headers=AUTH, timeout=10
    )
    assert answer.status_code == 202, answer.text
