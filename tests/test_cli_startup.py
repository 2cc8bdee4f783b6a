"""`flowhealth --help` starts without the heavy parts: the model loader, the store, HTTP clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


SQLITE_WRITES = """
import sys
from datetime import UTC, datetime
from sqlmodel import Session, select
import flowhealth.api.app, flowhealth.reload, flowhealth.runtime
from flowhealth.store.batch import Statements
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import SignalValue

engine = make_engine(sys.argv[1])
init_schema(engine)
Statements(engine.dialect)  # the probe results' upserts
for value in (3.0, 4.0):  # the second write is the upsert's update
    with Session(engine) as session:
        record_readings(session, "orders", "waiting", [Reading(value)], datetime.now(UTC), "probe")
        session.commit()
with Session(engine) as session:
    print(session.exec(select(SignalValue.value)).all())
print("postgresql" if "sqlalchemy.dialects.postgresql" in sys.modules else "no postgresql")
"""


def test_a_service_on_sqlite_never_loads_the_postgresql_dialect(tmp_path: Path) -> None:
    # SQLAlchemy's PostgreSQL dialect imports its four drivers' modules: ~0.03 s of every command.
    url = f"sqlite:///{tmp_path / 'state.db'}"
    run = subprocess.run([sys.executable, "-c", SQLITE_WRITES, url], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[4.0]", "no postgresql"]
