"""A real Alertmanager (Debian's prometheus-alertmanager) on a free port, for routing and template tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alertmanager_binary() -> str | None:
    return shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")


@contextmanager
def running_alertmanager(config: Path, work: Path) -> Iterator[str]:
    """Start Alertmanager with `config` (clustering off); yield its base URL."""
    binary = alertmanager_binary()
    assert binary is not None
    port = _free_port()
    log = (work / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {(work / 'alertmanager.log').read_text()}")
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("alertmanager did not become ready within 30 s")
            time.sleep(0.2)  # waiting for an external process; no clock to inject
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    """Send alerts as Prometheus does (API v2)."""
    answer = httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5)
    answer.raise_for_status()
