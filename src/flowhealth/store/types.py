"""Column types and keys shared by the tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def labels_key(labels: Mapping[str, str]) -> str:
    """The canonical text of a label set, used as part of primary keys."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


def labels_of(key: str) -> dict[str, str]:
    loaded: Any = json.loads(key) if key else {}
    return {str(k): str(v) for k, v in loaded.items()}


def alert_key(rule: str, labels: str) -> str:
    """Identity of one alert series: the rule and its label set."""
    return rule if labels in ("", "{}") else f"{rule}{labels}"
