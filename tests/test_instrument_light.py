"""`flowhealth.instrument` in a venv holding nothing but opentelemetry-api; the documented names agree."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

import pytest

from flowhealth import semconv
from tests.support.services import need

SRC = Path(__file__).resolve().parent.parent / "src"
DOCS = Path(__file__).resolve().parent.parent / "docs/traces.md"

SCRIPT = """
import sys
from flowhealth import instrument

with instrument.stage("order-export", "exported", "SO-1", entity_type="order") as mark:
    mark.rejected("bad_vat")

@instrument.stage_of("order-export", "accepted", entity="order_number")
def accept(order_number: str) -> str:
    return order_number

assert accept("SO-2") == "SO-2"
loaded = sorted(m for m in sys.modules if m.startswith("flowhealth"))
assert loaded == ["flowhealth", "flowhealth.instrument", "flowhealth.semconv"], loaded
for heavy in ("pydantic", "sqlalchemy", "fastapi", "grafanalib", "yaml"):
    assert heavy not in sys.modules, heavy
print("ok")
"""


@pytest.mark.slow
def test_instrument_imports_with_only_opentelemetry_api(tmp_path: Path) -> None:
    env_dir = tmp_path / "bare"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin/python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"opentelemetry-api=={version('opentelemetry-api')}"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    need(install.returncode == 0, f"PyPI for opentelemetry-api ({install.stderr.strip()[-200:]})")
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    names = {line.split("==")[0].lower() for line in installed.stdout.splitlines()}
    assert "pydantic" not in names and "sqlalchemy" not in names  # truly bare
    # The source tree on the path, not an installed flowhealth: only what instrument imports is loaded.
    run = subprocess.run(
        [str(python), "-c", SCRIPT], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_the_documented_names_are_the_ones_in_use() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([a-z._]+)` \|", text, flags=re.MULTILINE))
    assert set(semconv.SPAN_ATTRIBUTES) <= documented
    assert set(semconv.SIGNAL_LABELS) <= documented
    assert sys.modules["flowhealth.semconv"].__file__ is not None
