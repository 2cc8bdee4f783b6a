"""The parameter marker of a connection's DB-API driver, for SQL run on the driver's cursor.

The span path writes with `exec_driver_sql` (SQLAlchemy's per-row compile and result processing
cost more than the statements), so its SQL carries the driver's own marker: sqlite3's `?`,
psycopg's `%s`.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection


def marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"
