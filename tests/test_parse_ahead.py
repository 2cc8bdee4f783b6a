"""A second process parses big models' files while the first validates: the same model, the same errors.

Each scenario runs in a fresh Python process: the helper is only forked from a process with one
thread, which the test runner's own process cannot promise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from benchmarks.synthetic import write_synthetic_model

from flowhealth.errors import ModelError
from flowhealth.model.loader import load_model
from tests.support.models import REPO, copy_reference
from tests.support.service import ServeProcess

# Runs in the fresh process: `root` is the model; `ahead` has every file (MIN_BYTES 0).
PRELUDE = """
import json, os, signal, sys
from pathlib import Path
from flowhealth.errors import ModelError
from flowhealth.model import parse_ahead
from flowhealth.model.files import ModelLimits
from flowhealth.model.loader import load_model, yaml_files

root = Path(sys.argv[1])
limits = ModelLimits()
parse_ahead.MIN_BYTES = 0
files = [(path, shown) for path, shown, _ in yaml_files(root)]

def outcome(ahead):
    try:
        model = load_model(root, limits, ahead)
    except ModelError as exc:
        return {"issues": [str(issue) for issue in exc.issues]}
    return {"rules": {rule_id: rule.model_dump(mode="json") for rule_id, rule in model.rules.items()}}

def report(**found):
    print(json.dumps(found))

ahead = parse_ahead.ParseAhead.start(files, limits)
"""


def run_fresh(root: Path, scenario: str) -> dict[str, Any]:
    script = PRELUDE + textwrap.dedent(scenario)
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def loaded_here(root: Path) -> dict[str, Any]:
    """What the loader makes of the model in this process, small enough to parse without a helper."""
    try:
        model = load_model(root)
    except ModelError as exc:
        return {"issues": [str(issue) for issue in exc.issues]}
    return {"rules": {rule_id: rule.model_dump(mode="json") for rule_id, rule in model.rules.items()}}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_reference(tmp_path)


def test_the_reference_deployment_parsed_by_the_helper_is_the_model_parsed_here(root: Path) -> None:
    found = run_fresh(
        root,
        """
        report(outcome=outcome(ahead), used=ahead.used, files=len(files))
        """,
    )
    assert found["used"] == found["files"] > 3, "the helper parsed every file"
    assert found["outcome"] == loaded_here(root)


def test_serve_hands_every_file_to_its_helper_and_loads_the_same_model(root: Path) -> None:
    """What `serve` does before it imports the service: `cli.common.parse_ahead`, then `load_or_exit` with it."""
    found = run_fresh(
        root,
        """
        from flowhealth.cli.common import load_or_exit, parse_ahead as serve_parse_ahead
        ahead.close()
        ahead = serve_parse_ahead(root)
        model = load_or_exit(root, ahead)
        report(
            outcome={"rules": {rule_id: rule.model_dump(mode="json") for rule_id, rule in model.rules.items()}},
            used=ahead.used,
            files=len(files),
        )
        """,
    )
    assert found["used"] == found["files"] > 3, "the helper parsed every file"
    assert found["outcome"] == loaded_here(root)


def test_errors_in_files_the_helper_parsed_name_the_same_file_line_and_field(root: Path) -> None:
    rules = root / "alert_rules" / "catalog.yaml"
    rules.write_text(rules.read_text().replace("severity: warning", "severity: loud", 1))
    broken = root / "alert_rules" / "orders.yaml"
    broken.write_text(broken.read_text() + "  unclosed: [1, 2\n")
    expected = loaded_here(root)
    assert any("catalog.yaml" in issue and "severity" in issue for issue in expected["issues"])
    assert any("orders.yaml" in issue and "invalid YAML" in issue for issue in expected["issues"])

    found = run_fresh(root, "report(outcome=outcome(ahead))")

    assert found["outcome"] == expected


def test_a_file_whose_text_changed_after_the_helper_read_it_is_parsed_again(root: Path) -> None:
    found = run_fresh(
        root,
        """
        first, shown = files[0]
        stale = ahead.take(first, first.read_text() + "# edited after the helper read it\\n")
        report(stale=stale is None, outcome=outcome(ahead), used=ahead.used, files=len(files))
        """,
    )
    assert found["stale"], "a result for other text was handed out"
    assert found["used"] == found["files"] - 1
    assert found["outcome"] == loaded_here(root)


def test_a_rule_edited_while_the_helper_runs_is_loaded_as_edited(root: Path) -> None:
    found = run_fresh(
        root,
        """
        for path, _ in files:
            text = path.read_text()
            if "severity: critical" in text:
                path.write_text(text.replace("severity: critical", "severity: warning"))
        report(outcome=outcome(ahead))
        """,
    )
    severities = {rule["severity"] for rule in found["outcome"]["rules"].values()}
    assert "critical" not in severities and "warning" in severities
    assert found["outcome"] == loaded_here(root)


def test_a_helper_killed_midway_loses_nothing(root: Path) -> None:
    found = run_fresh(
        root,
        """
        me = os.getpid()
        for child in Path(f"/proc/{me}/task/{me}/children").read_text().split():
            os.kill(int(child), signal.SIGKILL)  # as the kernel's OOM killer would
        report(outcome=outcome(ahead), used=ahead.used)
        """,
    )
    assert found["used"] == 0
    assert found["outcome"] == loaded_here(root)


def test_validate_on_a_big_model_names_the_line_of_a_mistake_in_the_helpers_file(tmp_path: Path) -> None:
    """3,000 rules (1.3 MiB of YAML): `validate` hands alert_rules/ (0.6 MiB) to the helper."""
    write_synthetic_model(tmp_path, flows=3_000)
    rules = tmp_path / "alert_rules" / "synthetic.yaml"
    lines = rules.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  rule-02000-00:"))
    lines[at + 3] = "    above: lots"
    rules.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "FLOWHEALTH_MODEL_MAX_FILE_BYTES": str(8 << 20), "FLOWHEALTH_MODEL_MAX_VALUES": "1000000"}
    flowhealth = Path(sys.executable).parent / "flowhealth"

    done = subprocess.run(
        [str(flowhealth), "validate", "-m", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert f"alert_rules/synthetic.yaml:{at + 4}" in done.stderr
    assert "rules.rule-02000-00.above" in done.stderr


def test_serve_warns_once_of_a_file_it_skips(root: Path, tmp_path: Path) -> None:
    """`serve` lists the files for its helper before it loads the model, which lists them again."""
    (root / "flows" / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    env = {"FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    service = ServeProcess(root, env, tmp_path / "serve.log")
    try:
        service.start()
    finally:
        service.stop()
    assert service.log().count("flows/gone.yaml: skipped") == 1, service.log()
