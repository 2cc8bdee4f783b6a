"""`flowhealth serve` started before PostgreSQL accepts connections (a TCP proxy kept down): it
waits with backoff, says so in the log, answers /healthz degraded, then runs once the database is up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from flowhealth.store.wait import wait_for_database
from tests.support.faults import TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model
from tests.support.proxy import TcpProxy
from tests.support.service import ServeProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


def through(proxy: TcpProxy, postgres_url: str) -> str:
    return make_url(postgres_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def test_serve_waits_for_postgresql_then_runs(tmp_path: Path, postgres_url: str, proxy: TcpProxy) -> None:
    proxy.down()
    write_model(tmp_path / "model", pushed_flows(), pushed_rules())
    env = {"FLOWHEALTH_DATABASE_URL": through(proxy, postgres_url), "FLOWHEALTH_API_TOKEN": TOKEN}
    service = ServeProcess(tmp_path / "model", env, tmp_path / "serve.log")
    try:
        service.start(until_running=False)  # returns once something answers on the port
        health = httpx.get(f"{service.url}/healthz", timeout=2)
        assert health.status_code == 503
        assert health.json()["status"] == "degraded" and "waiting for the database" in health.json()["database"]
        wait_until(lambda: service.log().count("not reachable yet") >= 2, 20, "two logged attempts")
        assert service.process is not None and service.process.poll() is None, "serve must not exit"
        line = next(x for x in service.log().splitlines() if "not reachable yet" in x)
        assert f"127.0.0.1:{proxy.port}" in line and "retrying in" in line
        proxy.up()

        def ready() -> bool:
            try:
                return httpx.get(f"{service.url}/healthz", timeout=2).json().get("scheduler") == "running"
            except (httpx.HTTPError, ValueError):
                return False

        wait_until(ready, 45, "serve to run on the database")
        report = httpx.get(f"{service.url}/healthz", timeout=2).json()
        assert {key: report[key] for key in ("status", "database", "scheduler")} == {
            "status": "ok",
            "database": "ok",
            "scheduler": "running",
        }
        assert "reachable after" in service.log()
    finally:
        service.stop()


def test_the_wait_backs_off_and_stops_at_its_cap(postgres_url: str, proxy: TcpProxy) -> None:
    proxy.down()
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 8:
            proxy.up()

    assert wait_for_database(through(proxy, postgres_url), sleep=sleep, max_delay=10) == 9
    assert delays == [0.5, 1, 2, 4, 8, 10, 10, 10]
