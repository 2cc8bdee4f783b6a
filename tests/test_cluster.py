"""Membership, leadership and probe shares on a real PostgreSQL, and replicas following a reload."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.clock import FakeClock
from flowhealth.cluster import Cluster, Role, owner_of
from flowhealth.model import load_model
from flowhealth.reload import Reloader
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import init_schema, make_engine
from tests.support.faults import TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model

KEYS = frozenset((f"flow{n}", "backlog") for n in range(40))


def test_a_probe_moves_only_when_its_replica_leaves() -> None:
    three = ["a", "b", "c"]
    before = {key: owner_of(key, three) for key in KEYS}
    after = {key: owner_of(key, ["a", "c"]) for key in KEYS}
    assert {key for key in KEYS if before[key] != after[key]} == {key for key in KEYS if before[key] == "b"}
    assert len(set(before.values())) == 3  # everyone gets a share


def test_one_leader_shares_that_cover_every_probe_and_a_takeover_when_the_leader_leaves(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    init_schema(engine)
    first, second = Cluster(engine, KEYS), Cluster(engine, KEYS)
    try:
        first.heartbeat()
        second.heartbeat()
        views = [first.heartbeat(), second.heartbeat()]
        assert sorted(view.role for view in views) == [Role.FOLLOWER, Role.LEADER]
        assert views[0].owned | views[1].owned == KEYS and not views[0].owned & views[1].owned
        leader, follower = (first, second) if views[0].role is Role.LEADER else (second, first)

        leader.close()  # a clean stop: the lock and the row go at once
        view = follower.heartbeat()
        assert (view.role, view.owned, view.members) == (Role.LEADER, KEYS, (follower.replica_id,))
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_a_reload_on_one_replica_reaches_the_other(tmp_path: Path, postgres_url: str) -> None:
    model_dir = tmp_path / "m"
    write_model(model_dir, pushed_flows(), pushed_rules())
    settings = Settings(database_url=postgres_url, api_token=SecretStr(TOKEN), model_dir=model_dir)
    replicas = [
        Runtime.build(settings, load_model(model_dir), clock=FakeClock(), registry=CollectorRegistry(), environ={})
        for _ in range(2)
    ]
    reloaders = [Reloader(runtime, model_dir) for runtime in replicas]
    try:
        for runtime in replicas:
            assert runtime.cluster is not None
            runtime.cluster.heartbeat()
        (model_dir / "alert_rules" / "rules.yaml").write_text(
            textwrap.dedent(pushed_rules()).replace("  f3-backlog:", "  f3-backlog-renamed:")
        )
        assert reloaders[0].reload().reloaded
        assert replicas[0].cluster is not None and replicas[1].cluster is not None
        replicas[0].cluster.heartbeat()  # publishes the new model's digest
        replicas[1].cluster.heartbeat()  # sees it, and reloads its own (identical) files
        deadline = time.monotonic() + 10
        while reloaders[1].digest != reloaders[0].digest and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reloaders[1].digest == reloaders[0].digest
        assert "f3-backlog-renamed" in replicas[1].model.all_rules()
    finally:
        for runtime in replicas:
            runtime.stop()
            runtime.engine.dispose()
