"""The evaluator's time as SQL bound parameters: `:now` (epoch seconds) and `:now_ts` (a timestamp).

`:now_ts` is the same instant as `:now`, so the demo's accelerated clock moves both. Each
driver gets the timestamp in the form its columns compare against without a cast:

* PostgreSQL: an aware UTC datetime (timestamptz); sessions run with TimeZone=UTC, so a
  `timestamp without time zone` column is read as UTC too.
* MySQL/MariaDB: a naive UTC datetime; sessions run with time_zone '+00:00'.
* SQLite: text `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), the format SQLAlchemy and `datetime()` write,
  so plain comparisons and `julianday(:now_ts)` work (the sqlite3 datetime adapter is deprecated).
* Anything else (SQL Server via pyodbc): a naive UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW, NOW_TS = "now", "now_ts"
PARAMETERS = frozenset({NOW, NOW_TS})


def timestamp_for(dialect: str, now: datetime) -> datetime | str:
    """`now` as the `:now_ts` value for a dialect (see the module docstring)."""
    utc = now.astimezone(UTC)
    if dialect == "postgresql":
        return utc
    naive = utc.replace(tzinfo=None)
    if dialect == "sqlite":
        return naive.isoformat(sep=" ", timespec="microseconds")
    return naive


def time_params(dialect: str, now: datetime, names: frozenset[str] | set[str]) -> dict[str, object]:
    """The values of those of `:now` and `:now_ts` that a query uses."""
    params: dict[str, object] = {}
    if NOW in names:
        params[NOW] = now.timestamp()
    if NOW_TS in names:
        params[NOW_TS] = timestamp_for(dialect, now)
    return params
