"""The reconcile probe: two sources of records compared by key, per currency.

Each side's rows are summed per (key, currency), so partial captures and refunds net out and a
record booked twice shows as an amount mismatch. Amounts are Decimals and are never added
across currencies. A key present on one side only is missing on the other; a key on both sides
whose sums differ beyond the tolerance is an amount mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import ProbeInvalid
from ..store.records import Mismatch
from ..store.samples import Reading
from .jsonpath import pick

KINDS = ("missing_in_target", "missing_in_source", "amount_mismatch")

Row = tuple[str, str, Decimal]
"""(key, currency, amount) of one record."""

Fetch = Callable[[datetime], list[Row]]


@dataclass
class Diff:
    """What a comparison found: counts, amounts per currency, records per side, failing keys."""

    records: dict[str, int] = field(default_factory=lambda: {"source": 0, "target": 0})
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    failures: list[Mismatch] = field(default_factory=list)


def compare(source: Iterable[Row], target: Iterable[Row], absolute: Decimal, relative: Decimal) -> Diff:
    """Keyed diff of two record sets, with sums per (key, currency)."""
    diff = Diff()
    sums: dict[str, dict[tuple[str, str], Decimal]] = {"source": {}, "target": {}}
    for side, rows in (("source", source), ("target", target)):
        for key, currency, amount in rows:
            diff.records[side] += 1
            sums[side][(key, currency)] = sums[side].get((key, currency), Decimal(0)) + amount
    currencies = {currency for side in sums.values() for _, currency in side}
    for currency in currencies:
        diff.amounts[currency] = Decimal(0)
        for kind in KINDS:
            diff.counts[(kind, currency)] = 0
    ranked: list[tuple[Decimal, Mismatch]] = []
    for key, currency in sums["source"].keys() | sums["target"].keys():
        s, t = sums["source"].get((key, currency)), sums["target"].get((key, currency))
        gap: Decimal
        if t is None:
            kind, gap = "missing_in_target", abs(s or Decimal(0))
        elif s is None:
            kind, gap = "missing_in_source", abs(t)
        else:
            gap = abs(s - t)
            if gap <= absolute or gap <= relative * max(abs(s), abs(t)):
                continue
            kind = "amount_mismatch"
        diff.counts[(kind, currency)] += 1
        diff.amounts[currency] += gap
        ranked.append((gap, Mismatch(kind, key, currency, _float(s), _float(t))))
    # Largest gaps first, then by key: the sample shows what matters most, deterministically.
    ranked.sort(key=lambda item: (-item[0], item[1].key, item[1].currency))
    diff.failures = [m for _, m in ranked]
    return diff


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def rows_from(records: Iterable[Mapping[str, Any]], key: str, amount: str, currency: str, side: str) -> list[Row]:
    """(key, currency, amount) rows from records, or ProbeInvalid naming the bad record."""
    rows = []
    for index, record in enumerate(records):
        missing = [name for name in (key, amount, currency) if name not in record]
        if missing:
            raise ProbeInvalid(f"{side} record {index} has no {', '.join(missing)}")
        raw = record[amount]
        try:
            value = Decimal(str(raw)) if raw is not None and not isinstance(raw, bool) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise ProbeInvalid(f"{side} record {record[key]!r} has amount {raw!r}, not a number")
        rows.append((str(record[key]), str(record[currency]).upper(), value))
    return rows


def sql_fetch(query: Any, key: str, amount: str, currency: str, side: str) -> Fetch:
    """Rows of one side from a SqlQuery."""

    def fetch(now: datetime) -> list[Row]:
        columns, rows = query.rows(now)
        return rows_from((dict(zip(columns, row, strict=True)) for row in rows), key, amount, currency, side)

    return fetch


def http_fetch(endpoint: Any, path: str, key: str, amount: str, currency: str, side: str) -> Fetch:
    """Rows of one side from a JSON list in an HTTP answer."""

    def fetch(now: datetime) -> list[Row]:
        records = pick(endpoint.fetch(params={"now": str(int(now.timestamp()))}), path)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ProbeInvalid(f"{side}: {path} is not a list of records")
        return rows_from(records, key, amount, currency, side)

    return fetch


class ReconcileProbe:
    """Compares source and target on every run; keeps a capped sample of failing keys."""

    kind = "reconcile"

    def __init__(
        self, source: Fetch, target: Fetch, measure: str, absolute: float, relative: float, evidence_limit: int
    ) -> None:
        self._source = source
        self._target = target
        self._measure = measure
        self._absolute = Decimal(str(absolute))
        self._relative = Decimal(str(relative))
        self._limit = evidence_limit
        self._evidence: list[Mismatch] | None = None

    def run(self, now: datetime) -> list[Reading]:
        self._evidence = None
        diff = compare(self._source(now), self._target(now), self._absolute, self._relative)
        if self._measure != "records":
            self._evidence = diff.failures[: self._limit]
        return readings(diff, self._measure)

    def take_evidence(self) -> Sequence[Mismatch] | None:
        """Failing keys of the last successful run (None: this measure keeps no evidence)."""
        evidence, self._evidence = self._evidence, None
        return evidence

    def close(self) -> None:
        """Engines and clients belong to the shared pools."""


def readings(diff: Diff, measure: str) -> list[Reading]:
    """The readings of one measure; label values come from a closed set or from currencies."""
    if measure == "records":
        return [Reading(float(n), {"side": side}) for side, n in sorted(diff.records.items())]
    if measure == "mismatch_amount":
        return [Reading(float(amount), {"currency": c}) for c, amount in sorted(diff.amounts.items())]
    return [
        Reading(float(n), {"mismatch": kind, "currency": currency})
        for (kind, currency), n in sorted(diff.counts.items())
    ]
