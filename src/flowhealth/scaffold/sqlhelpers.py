"""SQL expressions over timestamp columns and `:now_ts`, per database (see docs/sql-time.md)."""

from __future__ import annotations

from enum import StrEnum


class Database(StrEnum):
    """Databases a template writes SQL for."""

    POSTGRESQL = "postgresql"
    MYSQL = "mysql"  # and MariaDB
    SQLITE = "sqlite"
    MSSQL = "mssql"

    def age_seconds(self, column: str) -> str:
        """Seconds from `column` (a timestamp) to the evaluator's time."""
        return {
            Database.POSTGRESQL: f"EXTRACT(EPOCH FROM :now_ts - {column})",
            Database.MYSQL: f"TIMESTAMPDIFF(SECOND, {column}, :now_ts)",
            Database.SQLITE: f"(julianday(:now_ts) - julianday({column})) * 86400",
            Database.MSSQL: f"DATEDIFF_BIG(SECOND, {column}, :now_ts)",
        }[self]

    def days_ago(self, days: int) -> str:
        """The evaluator's time minus whole days, comparable with a timestamp column."""
        return {
            Database.POSTGRESQL: f":now_ts - INTERVAL '{days} days'",
            Database.MYSQL: f":now_ts - INTERVAL {days} DAY",
            Database.SQLITE: f"datetime(:now_ts, '-{days} days')",
            Database.MSSQL: f"DATEADD(day, -{days}, :now_ts)",
        }[self]

    def minutes_ago(self, minutes: int) -> str:
        """The evaluator's time minus whole minutes, comparable with a timestamp column."""
        return {
            Database.POSTGRESQL: f":now_ts - INTERVAL '{minutes} minutes'",
            Database.MYSQL: f":now_ts - INTERVAL {minutes} MINUTE",
            Database.SQLITE: f"datetime(:now_ts, '-{minutes} minutes')",
            Database.MSSQL: f"DATEADD(minute, -{minutes}, :now_ts)",
        }[self]

    @property
    def example_url(self) -> str:
        """What the connection's environment variable holds (shown as a comment)."""
        return {
            Database.POSTGRESQL: "postgresql://reader:${DB_PASSWORD}@db.example.com/shop",
            Database.MYSQL: "mysql://reader:${DB_PASSWORD}@db.example.com/shop",
            Database.SQLITE: "sqlite:////var/lib/shop/shop.db",
            Database.MSSQL: "mssql+pyodbc://reader:${DB_PASSWORD}@erp-sql/shop?driver=ODBC+Driver+18+for+SQL+Server",
        }[self]
