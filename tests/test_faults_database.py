"""PostgreSQL goes away under a running flowhealth (a TCP proxy taken down) and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from flowhealth.clock import SystemClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.tables import Sample
from tests.support.faults import TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model
from tests.support.otlp import serve
from tests.support.proxy import TcpProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def runtime(tmp_path: Path, postgres_url: str, proxy: TcpProxy) -> Iterator[Runtime]:
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    model = write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    settings = Settings(
        database_url=through_proxy, api_token=SecretStr(TOKEN), evaluation_interval=0.3, delivery_interval=0.3
    )
    runtime = Runtime.build(settings, model, clock=SystemClock(), registry=CollectorRegistry(), environ={})
    runtime.start()
    yield runtime
    runtime.stop()
    runtime.engine.dispose()


def evaluations(runtime: Runtime) -> float:
    return runtime.registry.get_sample_value("flowhealth_rule_evaluations_total") or 0.0


def test_database_outage_degrades_then_recovers_by_itself_and_keeps_acknowledged_pushes(
    runtime: Runtime, proxy: TcpProxy
) -> None:
    with serve(runtime) as base:
        push = f"{base}/api/v1/flows/f1/signals/backlog"
        assert httpx.post(push, json={"value": 1}, headers=AUTH, timeout=10).status_code == 202
        assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"

        proxy.down()
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=10).status_code == 503, 10, "/healthz to say degraded")
        assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "degraded"
        refused = httpx.post(push, json={"value": 2}, headers=AUTH, timeout=15)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert "postgres" not in refused.text.lower(), "the answer leaks database details"
        wait_until(
            lambda: (runtime.registry.get_sample_value("flowhealth_rule_evaluation_failures_total") or 0) > 0,
            10,
            "an evaluation cycle to fail during the outage",
        )

        proxy.up()
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=10).status_code == 200, 15, "/healthz to say ok again")
        assert runtime.scheduler is not None
        after = evaluations(runtime)
        wait_until(lambda: evaluations(runtime) > after + 1, 10, "evaluation to resume without a restart")
        assert httpx.post(push, json={"value": 3}, headers=AUTH, timeout=10).status_code == 202

    with Session(runtime.engine) as session:
        values = session.exec(select(Sample.value).where(Sample.flow == "f1").order_by(Sample.id)).all()  # type: ignore[arg-type]
        count = session.exec(select(func.count()).select_from(Sample).where(Sample.flow == "f1")).one()
    assert list(values) == [1.0, 3.0] and count == 2, (
        "the push acknowledged before the outage is kept, the refused one is not"
    )
