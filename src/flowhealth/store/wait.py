"""Wait for the state database at start-up instead of exiting: in a compose stack or on a
Kubernetes node, PostgreSQL is often still starting when flowhealth is."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from .db import make_engine

log = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 30.0


def _ping(engine: Engine) -> str | None:
    """None when `SELECT 1` works, else the driver's first line of why not."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return None


def database_reachable(url: str) -> bool:
    engine = make_engine(url)
    try:
        return _ping(engine) is None
    finally:
        engine.dispose()


def wait_for_database(url: str, *, sleep: Callable[[float], None] = time.sleep, max_delay: float = MAX_DELAY) -> int:
    """Try `SELECT 1` until it works, backing off from 0.5 s to `max_delay`; return the attempts made."""
    engine = make_engine(url)
    where = make_url(url).render_as_string(hide_password=True)
    delay, attempt = FIRST_DELAY, 1
    try:
        while (reason := _ping(engine)) is not None:
            log.warning(
                "database %s not reachable yet (attempt %d: %s); retrying in %.1f s", where, attempt, reason, delay
            )
            sleep(delay)
            delay, attempt = min(delay * 2, max_delay), attempt + 1
        if attempt > 1:
            log.warning("database %s reachable after %d attempts", where, attempt)
        return attempt
    finally:
        engine.dispose()
