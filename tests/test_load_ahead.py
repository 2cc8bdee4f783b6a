"""`serve` has a second process load a big model while it imports the service: the same model, or none.

Each scenario runs in a fresh Python process: the child is only forked from a process with one
thread, which the test runner's own process cannot promise. MIN_BYTES is 0 there, so the
reference deployment stands for a big model.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from benchmarks.synthetic import write_synthetic_model

from tests.support.models import REPO, copy_reference

PRELUDE = """
import json, os, signal, sys, time
from pathlib import Path
from flowhealth.errors import ModelError
from flowhealth.model import load_ahead
from flowhealth.model.files import ModelLimits
from flowhealth.model.loader import load_model

root = Path(sys.argv[1])
limits = ModelLimits()
load_ahead.MIN_BYTES = 0

def loaded_here():
    try:
        return load_model(root, limits, helpers=False)
    except ModelError as exc:
        return [str(issue) for issue in exc.issues]

def report(**found):
    print(json.dumps(found))

ahead = load_ahead.LoadAhead.start(root, limits)
assert ahead is not None, "no child started"
"""


def run_fresh(root: Path, scenario: str) -> dict[str, Any]:
    script = PRELUDE + textwrap.dedent(scenario)
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_reference(tmp_path / "model")


def test_the_model_the_child_loaded_is_the_model_loaded_here(root: Path) -> None:
    found = run_fresh(
        root,
        """
        model, here = ahead.take(root, limits), loaded_here()
        payload = {"order_id": 7, "lines": [{"sku": None}]}  # breaks every contract in some way
        report(
            used=ahead.used,
            same=model == here,
            flows=len(model.flows),
            violations=[[str(v) for v in c.violations(payload)] for c in model.contracts.values()],
            violations_here=[[str(v) for v in c.violations(payload)] for c in here.contracts.values()],
        )
        """,
    )
    assert found["used"], "the child's model was not taken"
    assert found["same"] and found["flows"] > 3
    assert found["violations"] == found["violations_here"] and all(found["violations"]), "contracts validate as here"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("(root / 'alert_rules' / 'catalog.yaml').write_text(rules)", id="a rule file edited"),
        pytest.param("(root / 'alert_rules' / 'more.yaml').write_text(more)", id="a rule file added"),
        pytest.param("(root / 'runbooks' / 'new-runbook.md').write_text(runbook)", id="a runbook added"),
        pytest.param("contract.write_text(contract.read_text() + chr(10))", id="a contract file edited"),
    ],
)
def test_a_model_changed_after_the_child_read_it_is_loaded_here_as_changed(root: Path, change: str) -> None:
    found = run_fresh(
        root,
        f"""
        rules = (root / 'alert_rules' / 'catalog.yaml').read_text().replace("severity: critical", "severity: warning")
        more = "rules: {{}}\\n"
        runbook = "# New runbook\\n\\nWhat to do.\\n"
        contract = root / 'contracts' / 'erp-sales-order.schema.json'
        time.sleep(1.5)  # the child has read every file by now
        {change}
        report(taken=ahead.take(root, limits) is not None, used=ahead.used)
        """,
    )
    assert not found["taken"] and not found["used"], "a model of files that changed since was handed out"


def test_a_model_with_a_mistake_is_left_to_this_process_which_reports_it(root: Path) -> None:
    rules = root / "alert_rules" / "catalog.yaml"
    rules.write_text(rules.read_text().replace("severity: warning", "severity: loud", 1))
    found = run_fresh(
        root,
        """
        model = ahead.take(root, limits)
        report(taken=model is not None, issues=loaded_here())
        """,
    )
    assert not found["taken"]
    assert any("catalog.yaml" in issue and "severity" in issue for issue in found["issues"])


def test_a_child_killed_midway_loses_nothing(root: Path) -> None:
    found = run_fresh(
        root,
        """
        me = os.getpid()
        for child in Path(f"/proc/{me}/task/{me}/children").read_text().split():
            os.kill(int(child), signal.SIGKILL)  # as the kernel's OOM killer would
        report(taken=ahead.take(root, limits) is not None)
        """,
    )
    assert not found["taken"]


def _serve(model: Path, tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**env, "FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp / 'state.db'}"}
    flowhealth = Path(sys.executable).parent / "flowhealth"
    server = subprocess.Popen(
        [str(flowhealth), "serve", "-m", str(model), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"serve did not answer: {server.communicate()[1]}")


@pytest.mark.parametrize("skipped", [False, True], ids=["a clean model", "a model with a file to skip"])
def test_serve_on_a_big_model_serves_every_flow_and_warns_once(tmp_path: Path, skipped: bool) -> None:
    """3,000 flows (1.3 MiB of YAML): the child's model, or with a warning to show, the one loaded here."""
    model = tmp_path / "model"
    write_synthetic_model(model, flows=3_000)
    if skipped:
        (model / "flows" / "elsewhere").symlink_to(tmp_path)  # a symlink to a directory: skipped with a warning
    env = {**os.environ, "FLOWHEALTH_MODEL_MAX_FILE_BYTES": str(8 << 20), "FLOWHEALTH_MODEL_MAX_VALUES": "1000000"}
    server, port = _serve(model, tmp_path, env)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            exposition = response.read().decode()
    finally:
        server.terminate()
        stderr = server.communicate(timeout=30)[1]
    info = [line for line in exposition.splitlines() if line.startswith("flowhealth_flow_info{")]
    assert len({line.split('flow="')[1].split('"')[0] for line in info}) == 3_000
    assert stderr.count("flows/elsewhere: skipped") == (1 if skipped else 0), stderr
