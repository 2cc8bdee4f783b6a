"""The contract probe: payloads read from a database or an endpoint, validated against the flow's
contract; one sample per (field, reason) counting the payloads that break it there.

Failing payloads are evidence, never labels: `failing` returns them redacted, for alert messages
and the evidence pack.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ProbeInvalid
from ..evidence import EvidenceTable
from ..model.contracts import LoadedContract, Violation
from ..store.samples import Reading
from .jsonpath import pick

Records = Callable[[datetime], list[dict[str, Any]]]
MAX_SHOWN_PAYLOAD = 600  # characters of a redacted payload in an alert's evidence table


@dataclass(frozen=True)
class FailingPayload:
    """One payload that breaks the contract: its record key, what it breaks, the payload redacted."""

    key: str
    violations: list[Violation]
    payload: Any


def sql_records(query: Any) -> Records:
    """Rows of a SqlQuery as records (column -> value)."""

    def fetch(now: datetime) -> list[dict[str, Any]]:
        columns, rows = query.rows(now)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    return fetch


def http_records(endpoint: Any, path: str) -> Records:
    """Records from a JSON list in an HTTP answer."""

    def fetch(now: datetime) -> list[dict[str, Any]]:
        records = pick(endpoint.fetch(params={"now": str(int(now.timestamp()))}), path)
        if not isinstance(records, list):
            raise ProbeInvalid(f"{path} is not a list of payloads")
        return [r if isinstance(r, dict) else {"": r} for r in records]

    return fetch


def payload_of(record: Mapping[str, Any], column: str | None, index: int) -> Any:
    """The payload of a record: a JSON column or field, or the record itself."""
    if column is None:
        return dict(record)
    if column not in record:
        raise ProbeInvalid(f"record {index} has no '{column}'")
    value = record[column]
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            # Not JSON at all is the worst violation of a JSON contract, not a failed probe.
            return _NotJson(value)
    return value


class _NotJson(str):
    """A payload column that does not hold JSON."""


def check(contract: LoadedContract, payload: Any) -> list[Violation]:
    if isinstance(payload, _NotJson):
        return [Violation("$", "json", "the payload is not JSON")]
    return contract.violations(payload)


class ContractProbe:
    """Validates every payload its source returns on each run."""

    kind = "contract"

    def __init__(self, records: Records, contract: LoadedContract, payload: str | None, key: str | None) -> None:
        self._records = records
        self._contract = contract
        self._payload = payload
        self._key = key

    def run(self, now: datetime) -> list[Reading]:
        counts: Counter[tuple[str, str]] = Counter()
        for _, violations, _ in self._check(now):
            counts.update((v.field, v.reason) for v in violations)
        if not counts:
            # One zero series while every payload conforms: the panel shows 0, not "no data".
            return [Reading(0.0)]
        return [Reading(float(n), {"field": f, "reason": r}) for (f, r), n in sorted(counts.items())]

    def failing(self, now: datetime, limit: int) -> list[FailingPayload]:
        """Up to `limit` payloads that break the contract, redacted, in source order."""
        out: list[FailingPayload] = []
        for key, violations, payload in self._check(now):
            if len(out) >= limit:
                break
            shown = str(payload) if isinstance(payload, _NotJson) else self._contract.redact(payload)
            out.append(FailingPayload(key, violations, shown))
        return out

    def _check(self, now: datetime) -> list[tuple[str, list[Violation], Any]]:
        found = []
        for index, record in enumerate(self._records(now)):
            payload = payload_of(record, self._payload, index)
            violations = check(self._contract, payload)
            if violations:
                key = str(record.get(self._key, "")) if self._key else str(index)
                found.append((key, violations, payload))
        return found

    def close(self) -> None:
        """Engines and clients belong to the shared pools."""


def evidence_table(contract: LoadedContract, key: str, failing: list[FailingPayload]) -> EvidenceTable:
    """Failing payloads in the alert evidence format: one row per payload, the contract named."""
    rows = []
    for f in failing:
        text = f.payload if isinstance(f.payload, str) else json.dumps(f.payload, sort_keys=True, default=str)
        if len(text) > MAX_SHOWN_PAYLOAD:
            text = text[: MAX_SHOWN_PAYLOAD - 1] + "…"
        broken = "; ".join(f"{v.field}: {v.reason}" for v in f.violations)
        rows.append([f.key, broken, contract.label, text])
    return EvidenceTable(columns=[key, "violations", "contract", "payload (redacted)"], rows=rows)
