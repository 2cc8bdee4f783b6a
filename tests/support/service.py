"""A real `flowhealth serve` subprocess on a free port, to kill -9 and start again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.otlp import free_port

ENTRY = "from flowhealth.cli.main import main; main()"


class ServeProcess:
    """`flowhealth serve` with its own environment; stderr goes to a file the test can read."""

    def __init__(self, model_dir: Path, env: dict[str, str], log_path: Path) -> None:
        self.model_dir = model_dir
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, *, until_running: bool = True) -> None:
        """Start and wait until the service runs (or, `until_running=False`, until anything answers:
        serve answers /healthz with a stand-in while it waits for its database)."""
        self.launch()
        self.wait_ready(timeout)
        if until_running:
            self.wait_running(max(timeout, 30.0))

    def launch(self) -> None:
        """Start the process without waiting (several replicas started at the same moment)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    ENTRY,
                    "serve",
                    "--model-dir",
                    str(self.model_dir),
                    "--port",
                    str(self.port),
                    "-v",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the HTTP API answers."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flowhealth serve exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1.0)
                return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"flowhealth serve did not answer within {timeout}s: {self.log()[-2000:]}")

    def wait_running(self, timeout: float = 30.0) -> None:
        """Wait until the service itself answers (not the stand-in that answers while it waits for its database)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0).json().get("scheduler") == "running":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"flowhealth serve did not run within {timeout}s: {self.log()[-2000:]}")

    def kill9(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, like a crashed container."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
