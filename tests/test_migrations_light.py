"""A current state database is opened without Alembic; the revisions read from the files are Alembic's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from flowhealth.errors import SchemaError
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.migrate import alembic_config, head_revision, require_current, revisions, schema_version

CHECK = """
import sys
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.migrate import require_current

engine = make_engine(sys.argv[1])
init_schema(engine)  # what serve does on every start
print(require_current(engine).state.value)  # what commands that only read or write rows do
print("alembic" if "alembic" in sys.modules else "no alembic")
"""


def test_the_revisions_read_from_the_migration_files_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert revisions() == [s.revision for s in reversed(list(script.walk_revisions()))]
    assert head_revision() == script.get_current_head()


def test_a_restart_on_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    # Alembic and Mako cost ~0.15 s of CPU at every start and every command (issue 19).
    url = f"sqlite:///{tmp_path / 'state.db'}"
    init_schema(make_engine(url))
    run = subprocess.run([sys.executable, "-c", CHECK, url], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["current", "no", "alembic"]


def test_a_fresh_database_is_still_migrated_and_recorded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    assert schema_version(engine).current is None
    init_schema(engine)
    assert schema_version(engine).current == head_revision()


def test_a_database_recording_two_revisions_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    with engine.begin() as c:
        c.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
    with pytest.raises(SchemaError, match="several schema revisions"):
        require_current(engine)
