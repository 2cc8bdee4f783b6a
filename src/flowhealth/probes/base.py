"""The probe interface every kind implements, and the closed set of run outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..store.samples import Reading

if TYPE_CHECKING:
    from ..store.records import Mismatch


class Outcome(StrEnum):
    """How a probe run ended; the only values of the `outcome` metric label."""

    SUCCESS = "success"
    TIMEOUT = "timeout"
    ERROR = "error"
    INVALID = "invalid"


class Probe(Protocol):
    """Measures one signal. Raises ProbeTimeout, ProbeInvalid or ProbeError on failure."""

    kind: str

    def run(self, now: datetime) -> Sequence[Reading]: ...

    def close(self) -> None: ...


@runtime_checkable
class KeepsEvidence(Protocol):
    """A probe that also finds failing records, stored beside its samples (never as labels)."""

    def take_evidence(self) -> Sequence[Mismatch] | None: ...


def as_number(value: object, *, what: str) -> float:
    """Coerce a driver value to float or raise ProbeInvalid saying what came back."""
    from decimal import Decimal

    from ..errors import ProbeInvalid

    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ProbeInvalid(f"{what} is {value!r}, not a number") from None
    elif value is None:
        raise ProbeInvalid(f"{what} is NULL")
    else:
        raise ProbeInvalid(f"{what} is a {type(value).__name__}, not a number")
    if number != number:  # NaN
        raise ProbeInvalid(f"{what} is NaN")
    return number
