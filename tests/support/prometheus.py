"""A real Prometheus server scraping a local exporter, for the prometheus probe's tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Gauge, start_http_server

# What the exporter serves: orders waiting per queue; their sum is 10.
WAITING = {"erp-orders": 7.0, "erp-returns": 3.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_prometheus(work: Path) -> Iterator[str]:
    """Start Prometheus on a free port scraping our exporter every second; yield its base URL."""
    work.mkdir(parents=True, exist_ok=True)
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    registry = CollectorRegistry()
    gauge = Gauge("shop_orders_waiting", "Orders waiting per queue.", ["queue"], registry=registry)
    for queue, value in WAITING.items():
        gauge.labels(queue).set(value)
    exporter, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    config = work / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: shop\n    static_configs: [{{targets: ['127.0.0.1:{exporter.server_port}']}}]\n"
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_first_scrape(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        exporter.shutdown()
        exporter.server_close()


def _wait_for_first_scrape(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("prometheus exited during start-up")
        try:
            answer = httpx.get(f"{url}/api/v1/query", params={"query": "shop_orders_waiting"}, timeout=1).json()
            if len(answer["data"]["result"]) == len(WAITING):
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)  # waiting for an external process; no clock to inject
    raise RuntimeError("prometheus did not scrape the exporter within 30 s")
