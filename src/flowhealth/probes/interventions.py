"""The interventions probe: manual fixes recorded through the API or CLI, per reason."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from ..errors import ProbeError
from ..store.records import interventions_by_reason
from ..store.samples import Reading


class InterventionsProbe:
    """Counts a flow's interventions in a sliding window from the state database."""

    kind = "interventions"

    def __init__(self, state: Engine, flow: str, window: timedelta) -> None:
        self._state = state
        self._flow = flow
        self._window = window

    def run(self, now: datetime) -> list[Reading]:
        try:
            with Session(self._state) as session:
                counts = interventions_by_reason(session, self._flow, now - self._window)
        except SQLAlchemyError as exc:
            raise ProbeError(f"state database: {type(exc).__name__}") from None
        # A reason with no intervention left in the window disappears, which resolves its alert.
        return [Reading(float(n), {"reason": reason}) for reason, n in sorted(counts.items())]

    def close(self) -> None:
        """The state engine belongs to the runtime."""
