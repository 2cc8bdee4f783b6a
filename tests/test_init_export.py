"""Every template's model exports Prometheus rules that promtool accepts, and whose generated rule tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.scaffold import TEMPLATES, TemplateName
from tests.support.services import need_tool

runner = CliRunner()


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_exported_rules_pass_promtool(tmp_path: Path, template: TemplateName) -> None:
    promtool = need_tool("promtool")
    made = runner.invoke(app, ["init", str(tmp_path), "--no-interactive", "--template", template.value])
    assert made.exit_code == 0, made.output
    exported = runner.invoke(app, ["export", "prometheus-rules", "-m", str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    rules = tmp_path / "deploy/prometheus/rules"
    files = sorted(rules.glob("*.rules.yml"))
    assert len(files) >= 2
    checked = subprocess.run([promtool, "check", "rules", *map(str, files)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", str(rules / "flowhealth-alerts.test.yml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert "SUCCESS" in tested.stdout
