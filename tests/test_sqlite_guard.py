"""A second `flowhealth serve` on the same SQLite file refuses to start, with a sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.faults import pushed_flows, pushed_rules
from tests.support.models import write_model
from tests.support.service import ENTRY, ServeProcess


def test_a_second_serve_on_one_sqlite_file_refuses_and_the_first_keeps_running(tmp_path: Path) -> None:
    write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    database = tmp_path / "state.db"
    env = {"FLOWHEALTH_DATABASE_URL": f"sqlite:///{database}"}
    first = ServeProcess(tmp_path / "m", env, tmp_path / "first.log")
    first.start()
    first.wait_running()
    try:
        assert first.process is not None
        second = subprocess.run(
            [sys.executable, "-c", ENTRY, "serve", "--model-dir", str(tmp_path / "m"), "--port", "0"],
            env={**first.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"error: another flowhealth serve (pid {first.process.pid}) already uses the SQLite state file "
            f"{database}; stop it first, or use PostgreSQL (FLOWHEALTH_DATABASE_URL) to run several replicas"
        ]
        assert first.process.poll() is None
    finally:
        first.kill9()
    # kill -9 leaves no stale lock: the kernel dropped it with the process.
    again = ServeProcess(tmp_path / "m", env, tmp_path / "again.log")
    again.start()
    again.stop()
