"""Reaching the real services on this machine; skip politely, or fail when CI requires them."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

REQUIRED = os.environ.get("FLOWHEALTH_REQUIRE_SERVICES") == "1"

POSTGRES_ADMIN_URL = os.environ.get(
    "FLOWHEALTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_URL = os.environ.get("FLOWHEALTH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_ADDR = ("127.0.0.1", 6379)
RABBITMQ_ADDR = ("127.0.0.1", 5672)
NATS_ADDR = ("127.0.0.1", 4222)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need(condition: bool, what: str) -> None:
    """Skip (or, with FLOWHEALTH_REQUIRE_SERVICES=1, fail) when a real service is missing."""
    if condition:
        return
    message = f"{what} is not available on this machine"
    if REQUIRED:
        pytest.fail(f"{message}, but FLOWHEALTH_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"the `{name}` command (Debian package providing it)")
    assert path is not None
    return path
