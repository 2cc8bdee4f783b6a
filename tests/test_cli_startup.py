"""`flowhealth --help` starts without the heavy parts: the model loader, the store, HTTP clients."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from flowhealth.cli.main import main

sys.argv = ["flowhealth", "--help"]
try:
    main()
except SystemExit:
    pass
heavy = ("sqlalchemy", "alembic", "httpx", "pydantic", "pydantic_settings", "yaml", "jinja2", "fastapi",
         "flowhealth.model.loader", "flowhealth.store", "flowhealth.settings")
print(",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def test_help_imports_no_heavy_module() -> None:
    # Each of these cost 0.05-0.2 s of every CLI call when imported at start-up (issue 19).
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Usage" in run.stdout
    assert run.stderr.strip() == ""


SERVE_STACK = """
import sys
import flowhealth.api.app, flowhealth.reload, flowhealth.runtime
print(",".join(m for m in ("httpx", "rich") if m in sys.modules), file=sys.stderr)
"""


def test_serve_stack_leaves_httpx_to_the_receivers_and_probes_that_need_it() -> None:
    # httpx loads its own command line (rich, pygments, click) when those are installed: 0.1 s of
    # every `serve` start, paid only when a model has an http probe or a webhook-style receiver.
    run = subprocess.run([sys.executable, "-c", SERVE_STACK], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == ""
