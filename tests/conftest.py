"""Shared fixtures: the reference model, state databases on SQLite and PostgreSQL, clocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from flowhealth.clock import FakeClock
from flowhealth.model import Model, load_model
from flowhealth.store.db import init_schema, make_engine
from tests.support.services import POSTGRES_ADMIN_URL, need, port_open

REPO = Path(__file__).resolve().parent.parent

# CI (`.ci/run` sets HYPOTHESIS_PROFILE=ci) draws the same examples on every run: a commit is green or
# red for what it changed, not for a draw. Runs elsewhere draw new examples each time and keep exploring;
# a failure there prints the example (and `@reproduce_failure`) to add as an explicit `@example`.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def reference_model() -> Model:
    return load_model(REPO)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def postgres_available() -> bool:
    url = make_url(POSTGRES_ADMIN_URL)
    return port_open(url.host or "127.0.0.1", url.port or 5432)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    need(postgres_available(), "PostgreSQL")
    admin = make_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"flowhealth_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state database URL on each supported backend, for a `flowhealth serve` subprocess."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty state database on each supported backend, not migrated: for upgrade tests."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    else:
        engine = make_engine(request.getfixturevalue("postgres_url"))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def state_engine(empty_engine: Engine) -> Engine:
    """The state store on each supported backend, migrated to the current schema."""
    init_schema(empty_engine)
    return empty_engine
