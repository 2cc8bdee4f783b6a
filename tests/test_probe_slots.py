"""Scheduler slots: SQL probes of one connection due together run from one job on one connection."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, event, text

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.probes import registry
from flowhealth.probes.connections import ConnectionPools
from flowhealth.probes.registry import Factory, ProbeContext
from flowhealth.probes.runner import ProbeGroup, ProbeRunner
from flowhealth.probes.slots import Scheduled, phase, plan_slots
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import init_schema, make_engine
from flowhealth.testing import probe_registry
from tests.support.models import ORDERS_FLOW, write_model
from tests.support.stand_ins import StandInProbe
from tests.support.waiting import wait_until


def signal(connection: str, name: str, query: str) -> str:
    return f"""      {name}:
        kind: depth
        description: Rows counted by {name}.
        probe: {{kind: sql, connection: {connection}, query: "{query}", interval: 10s, timeout: 5s}}
"""


def model_of(root: Path, connections: dict[str, str], body: str) -> Model:
    head = "connections:\n" + "".join(f'  {name}: {{url: "{url}"}}\n' for name, url in connections.items())
    return write_model(root, head + ORDERS_FLOW + body)


# --- the plan ---------------------------------------------------------------------------------


def test_probes_of_one_connection_and_slot_share_a_job_others_keep_their_own() -> None:
    probes = {("f", f"s{n}"): Scheduled(10.0, "sql:a") for n in range(200)}
    probes |= {("f", f"t{n}"): Scheduled(10.0, "sql:b") for n in range(200)}
    probes |= {("f", "http"): Scheduled(10.0, None), ("f", "slow"): Scheduled(60.0, "sql:a")}
    slots = plan_slots(probes, width=1.0)

    scheduled = [key for slot in slots for key in slot.keys]
    assert sorted(scheduled) == sorted(probes)  # every probe exactly once
    assert len({slot.job_id for slot in slots}) == len(slots)
    for slot in slots:
        assert {probes[key].interval for key in slot.keys} == {slot.interval}
        assert len({probes[key].shares for key in slot.keys}) == 1  # never two connections in one job
        assert slot.offset < slot.interval
        for flow, signal in slot.keys:
            exact = phase(f"{flow}/{signal}") * slot.interval
            assert slot.offset <= exact < slot.offset + 1.0  # the probe's own phase, to the slot
    # 400 probes on two connections over ten 1 s slots: at most 20 jobs instead of 400.
    assert len([s for s in slots if s.interval == 10.0 and s.job_id != "probe:f:http"]) <= 20
    http = next(slot for slot in slots if slot.keys == (("f", "http"),))
    assert http.job_id == "probe:f:http" and http.offset == phase("f/http") * 10.0


def test_a_slot_wider_than_the_interval_puts_a_connection_s_probes_in_one_job() -> None:
    probes = {("f", f"s{n}"): Scheduled(0.5, "sql:a") for n in range(10)}
    (slot,) = plan_slots(probes, width=1.0)
    assert slot.offset == 0.0 and len(slot.keys) == 10


# --- one group run ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE waiting (id INTEGER PRIMARY KEY, bucket INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO waiting (id, bucket) VALUES (1, 0), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)"))
    engine.dispose()
    yield url


def make_runner(
    model: Model, tmp_path: Path, clock: FakeClock, probes: Mapping[str, Factory] | None = None
) -> tuple[ProbeRunner, ConnectionPools, Metrics]:
    state = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(state)
    metrics = Metrics(CollectorRegistry())
    pools = ConnectionPools(model.connections, {})
    return ProbeRunner(model, state, clock, metrics, ProbeContext(pools, factories=probes)), pools, metrics


def runs(metrics: Metrics, signal: str, outcome: str = "success") -> float:
    labels = {"flow": "orders", "signal": signal, "kind": "sql", "outcome": outcome}
    return metrics.registry.get_sample_value("flowhealth_probe_runs_total", labels) or 0.0


def test_a_group_runs_every_probe_on_one_pooled_connection(target_url: str, tmp_path: Path, clock: FakeClock) -> None:
    body = "".join(signal("shop_db", f"b{n}", f"SELECT COUNT(*) FROM waiting WHERE bucket = {n}") for n in range(3))
    model = model_of(tmp_path / "m", {"shop_db": target_url}, body)
    runner, pools, metrics = make_runner(model, tmp_path, clock)
    checkouts: list[object] = []
    event.listen(pools.engine("shop_db", connect_timeout=5.0), "checkout", lambda *args: checkouts.append(args))
    results: list[tuple[str, float | None]] = []
    runner.on_start = lambda flow, signal: results.append((signal, None))
    runner.on_result = lambda result: results.append((result.signal, result.readings[0].value))
    try:
        runner.run_group(ProbeGroup([("orders", "b0"), ("orders", "b1"), ("orders", "b2")]))
        runner.run_group(ProbeGroup([("orders", "b0"), ("orders", "b1"), ("orders", "b2")]))
    finally:
        runner.close()
    # one after the other, in order: each starts after the one before it ended
    assert results == [("b0", None), ("b0", 1.0), ("b1", None), ("b1", 2.0), ("b2", None), ("b2", 3.0)] * 2
    assert len(checkouts) == 2  # one checkout per group run, not one per probe
    assert [runs(metrics, f"b{n}") for n in range(3)] == [2.0, 2.0, 2.0]


def test_a_failing_probe_leaves_the_rest_of_its_group_running(
    target_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    body = signal("shop_db", "broken", "SELECT COUNT(*) FROM no_such_table")
    body += signal("shop_db", "ok", "SELECT COUNT(*) FROM waiting")
    model = model_of(tmp_path / "m", {"shop_db": target_url}, body)
    runner, _, metrics = make_runner(model, tmp_path, clock)
    try:
        runner.run_group(ProbeGroup([("orders", "broken"), ("orders", "ok")]))
    finally:
        runner.close()
    assert runs(metrics, "broken", "error") == 1.0
    assert runs(metrics, "ok") == 1.0


def test_a_replica_s_share_of_a_slot_runs_its_probes_at_once_after_the_whole_slot_ran(
    target_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    # A second replica joins: this one now owns part of the slot, and its next round runs that part.
    body = "".join(signal("shop_db", f"b{n}", f"SELECT COUNT(*) FROM waiting WHERE bucket = {n}") for n in range(3))
    model = model_of(tmp_path / "m", {"shop_db": target_url}, body)
    runner, _, metrics = make_runner(model, tmp_path, clock)
    slot = ProbeGroup([("orders", "b0"), ("orders", "b1"), ("orders", "b2")])
    try:
        for _ in range(3):
            runner.run_group(slot)
        runner.run_group(slot.share((("orders", "b0"), ("orders", "b2"))))
    finally:
        runner.close()
    assert [runs(metrics, f"b{n}") for n in range(3)] == [4.0, 3.0, 4.0]


class OwnedKeys:
    """A stand-in cluster view: this replica owns the probes in `owned` (replicas come and go)."""

    def __init__(self) -> None:
        self.owned: set[tuple[str, str]] = set()

    def owns(self, key: tuple[str, str]) -> bool:
        return key in self.owned


def test_a_slot_keeps_one_share_however_often_the_replicas_change(tmp_path: Path, stand_ins: StandIns) -> None:
    names = [f"p{n}" for n in range(6)]
    model = model_of(
        tmp_path / "m", {"shop_db": "sqlite://"}, "".join(signal("shop_db", n, f"SELECT {n}") for n in names)
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    runtime = Runtime.build(settings, model, registry=CollectorRegistry(), environ={}, probes=stand_ins.factories)
    cluster = OwnedKeys()
    runtime.cluster = cluster  # type: ignore[assignment]
    ran: list[str] = []
    runtime.runner.on_start = lambda flow, signal: ran.append(signal)
    keys = tuple(("orders", name) for name in names)
    slot = ProbeGroup(keys)
    try:
        for n in range(1, 2 ** len(keys)):  # every ownership of the slot but none: 63 of them
            cluster.owned = {key for i, key in enumerate(keys) if n >> i & 1}
            runtime.run_share(slot)
    finally:
        runtime.runner.close()
        runtime.engine.dispose()
    assert len(ran) == len(keys) * 2 ** (len(keys) - 1)  # each ownership ran exactly its probes
    alive = [g for g in gc.get_objects() if isinstance(g, ProbeGroup) and set(g.keys) <= set(keys)]
    assert len(alive) <= 2  # the slot and its current share, not one group per ownership ever seen


class StandIns(dict[str, StandInProbe]):
    """Stand-in probes by signal name, and the probe registry that builds them."""

    factories: dict[str, Factory]


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    """SQL probes replaced by stand-ins: signals named hung* block, the others answer at once."""
    made = StandIns()

    def factory(spec: Any, ctx: registry.ProbeContext, flow: str) -> StandInProbe:
        name = spec.query.split()[-1]  # the queries below end in the signal's name
        made[name] = StandInProbe(blocks=name.startswith("hung"))
        return made[name]

    made.factories = probe_registry(sql=factory)
    yield made
    for probe in made.values():
        probe.release.set()


def skipped(registry_: CollectorRegistry, signal: str) -> float:
    labels = {"flow": "orders", "signal": signal}
    return registry_.get_sample_value("flowhealth_probe_runs_skipped_total", labels) or 0.0


def test_a_probe_still_running_is_skipped_and_counted_while_its_group_runs(
    tmp_path: Path, clock: FakeClock, stand_ins: StandIns
) -> None:
    body = signal("shop_db", "hung", "SELECT 1 AS hung") + signal("shop_db", "fine", "SELECT 1 AS fine")
    model = model_of(tmp_path / "m", {"shop_db": "sqlite://"}, body)
    runner, _, metrics = make_runner(model, tmp_path, clock, stand_ins.factories)
    group = ProbeGroup([("orders", "hung"), ("orders", "fine")])
    first = threading.Thread(target=runner.run_group, args=(group,))
    first.start()
    try:
        assert stand_ins_ready(stand_ins, "hung")
        runner.run_group(group)  # the next round, while the first is held up by "hung"
        runner.run_group(group)
    finally:
        stand_ins["hung"].release.set()
        first.join(10)
        runner.close()
    hung, fine = stand_ins["hung"], stand_ins["fine"]
    assert hung.runs == 1 and hung.most_active == 1  # never stacked
    assert skipped(metrics.registry, "hung") == 2.0
    assert fine.runs == 2  # ran in both later rounds; the held-up round does not run it again late
    assert skipped(metrics.registry, "fine") == 0.0


def stand_ins_ready(made: dict[str, StandInProbe], name: str) -> bool:
    deadline = time.monotonic() + 10
    while name not in made and time.monotonic() < deadline:
        time.sleep(0.01)
    return made[name].entered.wait(10)


# --- under the scheduler ------------------------------------------------------------------------

SPEED = 20.0  # 10 s intervals every 0.5 s of real time; the 1 s slot is 50 ms


def start(model: Model, tmp_path: Path, slot: float = 1.0, probes: Mapping[str, Factory] | None = None) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", evaluation_interval=3600, probe_slot=slot)
    runtime = Runtime.build(settings, model, registry=CollectorRegistry(), environ={}, speed=SPEED, probes=probes)
    runtime.start()
    return runtime


def test_every_probe_of_a_slot_runs_under_the_scheduler(tmp_path: Path, target_url: str) -> None:
    names = [f"b{n}" for n in range(3)]
    body = "".join(signal("shop_db", name, f"SELECT COUNT(*) FROM waiting WHERE bucket = {name[1:]}") for name in names)
    model = model_of(tmp_path / "m", {"shop_db": target_url}, body)
    runtime = start(model, tmp_path, slot=10.0)  # the slot spans the interval: one job runs all three
    assert runtime.scheduler is not None
    try:
        jobs = [job for job in runtime.scheduler.get_jobs() if job.id.startswith("probe")]
        assert len(jobs) == 1 and len(jobs[0].args[0].keys) == 3

        def every_probe_ran_twice() -> bool:
            return all(
                (
                    runtime.registry.get_sample_value(
                        "flowhealth_probe_runs_total",
                        {"flow": "orders", "signal": name, "kind": "sql", "outcome": "success"},
                    )
                    or 0
                )
                >= 2
                for name in names
            )

        wait_until(every_probe_ran_twice, 15, "every probe of the slot to run twice")
    finally:
        runtime.stop()


def test_a_hanging_connection_delays_no_probe_of_another(tmp_path: Path, stand_ins: StandIns) -> None:
    body = signal("stuck_db", "hung", "SELECT 1 AS hung") + signal("stuck_db", "mate", "SELECT 1 AS mate")
    body += signal("other_db", "a", "SELECT 1 AS a") + signal("other_db", "b", "SELECT 1 AS b")
    model = model_of(tmp_path / "m", {"stuck_db": "sqlite://", "other_db": "sqlite://"}, body)
    runtime = start(
        model, tmp_path, slot=10.0, probes=stand_ins.factories
    )  # per connection, one job runs all its probes
    try:
        wait_until(lambda: "hung" in stand_ins and stand_ins["hung"].entered.is_set(), 15, "the hung probe to start")
        wait_until(
            lambda: all(name in stand_ins and stand_ins[name].runs >= 4 for name in ("a", "b", "mate")),
            15,
            "the other probes to keep running every interval while one hangs",
        )
        wait_until(lambda: skipped(runtime.registry, "hung") >= 2, 15, "the hung probe's runs to be skipped")
    finally:
        for probe in stand_ins.values():
            probe.release.set()
        runtime.stop()
    assert stand_ins["hung"].runs == 1 and stand_ins["hung"].most_active == 1
    assert skipped(runtime.registry, "a") == 0.0 and skipped(runtime.registry, "b") == 0.0
